/**
 * The one-shot API's `airlock run` options against a real server, on every runtime the host has:
 * a string command runs under `sh -c`, `workdir` is where it starts, `image` names the image, `stdin` is piped in,
 * `pids_limit` and `scratch_mb` are enforced. The working directory follows one rule on every runtime:
 * below /tmp it is made on the scratch, owned by the sandbox user; elsewhere one the image doesn't
 * have is a 403 `workdir_refused` naming it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { realServerSkipReason, startRealServer, type RealServer } from '../../sdk/testing/server.ts';

const skip = await realServerSkipReason();

describe('one-shot run options (real server)', { skip }, () => {
  let server: RealServer;
  before(async () => {
    server = await startRealServer({ networkPoolSize: 0 });
  });
  after(async () => {
    await server?.close();
  });

  const execute = async (body: Record<string, unknown>) => {
    const res = await fetch(`${server.url}/api/v1/sandbox/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ agent_id: 'options-test', timeout_seconds: 30, ...body }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { error?: { code: string; message: string } } };
  };

  for (const runtime of ['namespace', 'gvisor'] as const) {
    it(`${runtime}: string command via sh -c, in workdir, on the named image, with pids_limit and scratch_mb`, async (t) => {
      const health = (await (await fetch(`${server.url}/health`)).json()) as { runtimes_available: string[] };
      if (!health.runtimes_available.includes(runtime)) {
        t.skip(`${runtime} is not available on this host`);
        return;
      }
      const shell = await execute({
        runtime, image: server.config.defaultImage, workdir: '/usr/share', pids_limit: 64, scratch_mb: 16,
        command: 'echo "$0 $(pwd)"; df -m /tmp | tail -1; exit 7',
      });
      assert.equal(shell.status, 200, JSON.stringify(shell.body));
      const [first, df] = String(shell.body['output']).split('\n');
      assert.equal(first, 'sh /usr/share');
      // scratch_mb: the writable /tmp is 16 MiB.
      assert.match(df ?? '', /^\S+\s+16\s/, `df: ${df}`);
      assert.equal(shell.body['exit_code'], 7);
      assert.equal(shell.body['termination_reason'], 'completed');

      // pids_limit: a loop of background sleeps stops at the limit, reported as such.
      const forks = await execute({ runtime, pids_limit: 16, command: 'i=0; while [ $i -lt 64 ]; do sleep 5 & i=$((i+1)); done; wait' });
      assert.equal(forks.status, 200, JSON.stringify(forks.body));
      assert.equal(forks.body['termination_reason'], 'pids_limit');

      const argv = await execute({ runtime, command: ['sh', '-c', 'echo "$1"', 'sh', 'a; b'] });
      assert.equal(argv.body['output'], 'a; b');

      // stdin: piped to the command, as airlock run forwards piped input.
      const piped = await execute({ runtime, command: 'tr a-z A-Z', stdin: 'piped input' });
      assert.equal(piped.body['output'], 'PIPED INPUT');

      // Below /tmp: made on the scratch, owned by the sandbox user, so the command can write there.
      // (`test -O`, not stat(1): this runsc answers statx with EINVAL.)
      const made = await execute({ runtime, workdir: '/tmp/made/here', command: 'pwd; [ -O . ] && echo owned; echo x > f && cat f' });
      assert.equal(made.status, 200, JSON.stringify(made.body));
      assert.equal(made.body['output'], '/tmp/made/here\nowned\nx');

      // Elsewhere, a directory the image lacks is refused before anything runs, naming it.
      const noDir = await execute({ runtime, workdir: '/no/such/dir', command: 'pwd' });
      assert.equal(noDir.status, 403, JSON.stringify(noDir.body));
      assert.equal(noDir.body.error?.code, 'workdir_refused');
      assert.match(noDir.body.error?.message ?? '', /^workdir: \/no\/such\/dir is not a directory in the image/);
    });
  }
});
