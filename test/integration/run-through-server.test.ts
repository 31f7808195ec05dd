/**
 * `airlock run` through a running server (`--socket`, `AIRLOCK_SOCKET`, `--url unix:…`): the real
 * CLI against a real `airlock serve` on a unix socket of its own. The output streams back as bytes
 * and the exit code is the command's; piped input, `--language`, `--json`, a refusal and a cancel
 * by signal behave as they do in-process; the run is the server's (listed by its status while it
 * runs, gone when the CLI has exited); `--config` beside a server is refused rather than ignored.
 */
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { AirlockClient } from '../../sdk/client.ts';
import { unixSocketConnection, unixSocketFetch } from '../../sdk/unix-fetch.ts';
import { runCli, startCli, type CliRun } from '../../src/cli/test-cli.ts';
import { RUNTIMES } from '../security/lib/runtime.ts';
import { skipReason } from './environment.ts';
import { socketServer } from './serve-on-socket.ts';

const server = socketServer();
const reason = skipReason(server.config);
const anyRuntime = () => RUNTIMES.some((r) => reason(r) === false);

before(async () => {
  if (anyRuntime()) await server.start();
});

after(async () => {
  const problems = await server.stop();
  if (problems.length > 0) process.stderr.write(`run through server test cleanup: ${problems.join('; ')}\n`);
});

const show = (r: CliRun) => `exit ${String(r.code)}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
/** `airlock run --socket S ARGS…`, with no configuration of its own. */
const run = (args: string[], input?: string) => runCli(['run', '--socket', server.socket, ...args], input === undefined ? {} : { input });

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('airlock run through a running server', () => {
  for (const runtime of RUNTIMES) {
    test(`${runtime}: output streams back as bytes, stderr apart, and the exit code is the command's`, { skip: reason(runtime), timeout: 120_000 }, async () => {
      const r = await run(['--runtime', runtime, '--', '/bin/sh', '-c', "printf 'out\\377'; printf err >&2; exit 7"]);
      assert.equal(r.code, 7, show(r));
      assert.deepEqual(r.stdoutBytes, Buffer.from([0x6f, 0x75, 0x74, 0xff]));
      assert.equal(r.stderr, 'err');
    });
  }

  test('piped input reaches the command; --language takes its code from --code or stdin', { skip: reason('namespace'), timeout: 120_000 }, async () => {
    const piped = await run(['--', '/bin/cat'], 'piped text');
    assert.equal(piped.code, 0, show(piped));
    assert.equal(piped.stdout, 'piped text');
    const code = await run(['--language', 'bash', '--code', 'echo $((6 * 7))']);
    assert.equal(code.stdout, '42\n', show(code));
    const fromStdin = await run(['--language', 'bash'], 'echo from stdin');
    assert.equal(fromStdin.stdout, 'from stdin\n', show(fromStdin));
  });

  test('--json prints the execution result the API answers, receipt included', { skip: reason('namespace'), timeout: 120_000 }, async () => {
    const r = await run(['--json', '--', '/bin/sh', '-c', 'echo hi; exit 3']);
    assert.equal(r.code, 3, show(r));
    const result = JSON.parse(r.stdout) as { success: boolean; exit_code: number; output: string; runtime_used: string; execution_id: string; receipt?: unknown };
    assert.equal(result.success, false);
    assert.equal(result.exit_code, 3);
    assert.equal(result.output, 'hi');
    assert.equal(result.runtime_used, 'namespace');
    assert.match(result.execution_id, /^[0-9a-f-]{36}$/);
    assert.ok(result.receipt !== undefined && result.receipt !== null, 'the server recorded the run and sent its receipt');
    assert.equal('type' in result, false, 'the answer, not the stream frame that carried it');
  });

  test('AIRLOCK_SOCKET names the server as --socket does; a refusal names the field and nothing runs', { skip: reason('namespace'), timeout: 120_000 }, async () => {
    const viaEnv = await runCli(['run', '--', '/bin/echo', 'env'], { env: { AIRLOCK_SOCKET: server.socket } });
    assert.equal(viaEnv.stdout, 'env\n', show(viaEnv));
    const refused = await run(['--memory', '99999999', '--', '/bin/echo', 'never']);
    assert.equal(refused.code, 1, show(refused));
    assert.match(refused.stderr, /memory_limit_mb/);
    assert.equal(refused.stdout, '');
  });

  test('--config beside a server is refused (exit 2), not silently ignored', async () => {
    const r = await runCli(['--config', server.configFile, 'run', '--socket', server.socket, '--', '/bin/true']);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /--config: a run through a server uses the server's configuration/);
  });

  test('SIGINT cancels the run on the server, which has ended it when the CLI exits 130', { skip: reason('namespace'), timeout: 120_000 }, async () => {
    const client = new AirlockClient(unixSocketConnection(server.socket));
    const cli = startCli(['run', '--socket', server.socket, '--timeout', '120', '--', '/bin/sh', '-c', 'echo started >&2; exec sleep 100']);
    await until('the command to start', () => cli.stderrSoFar().includes('started') || cli.child.exitCode !== null);
    const running = await client.status();
    assert.equal(running.total_count, 1, 'the run is the server\'s: its status lists it');
    cli.child.kill('SIGINT');
    const ended = await cli.done;
    assert.equal(ended.code, 128 + constants.signals.SIGINT, ended.stderr);
    assert.match(ended.stderr, /SIGINT: stopping the sandbox/);
    // The CLI waited for the server's account of the ending, not just hung up.
    assert.match(ended.stderr, /sandbox terminated: killed/);
    assert.equal((await client.status()).total_count, 0, 'ended and torn down before the CLI exited');
  });

  test('the API streams a one-shot only when asked: SSE on text/event-stream, one JSON body otherwise (the seed\'s answer)', { skip: reason('namespace'), timeout: 120_000 }, async () => {
    const fetchOnSocket = unixSocketFetch(server.socket);
    const post = (accept: string) =>
      fetchOnSocket('http://localhost/api/v1/sandbox/execute', { method: 'POST', headers: { 'content-type': 'application/json', accept }, body: JSON.stringify({ command: ['/bin/sh', '-c', 'echo one; echo two >&2'] }) });
    const sse = await post('text/event-stream');
    assert.equal(sse.status, 200);
    assert.match(sse.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events = await sse.text();
    assert.match(events, /^event: stdout\ndata: \{"type":"stdout","data":"one\\n","encoding":"utf8"\}\n\n/m);
    assert.match(events, /^event: stderr\ndata: \{"type":"stderr","data":"two\\n","encoding":"utf8"\}\n\n/m);
    assert.match(events, /event: result\ndata: \{"type":"result",.*"exit_code":0/);
    const json = await post('application/json');
    assert.match(json.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await json.json()) as { output: string; exit_code: number };
    assert.equal(body.exit_code, 0);
    assert.match(body.output, /one/);
  });
});
