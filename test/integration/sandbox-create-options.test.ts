/**
 * `airlock sandbox create` takes what `airlock run` takes, through the real CLI against a real
 * `airlock serve` on a unix socket of its own, on both runtimes: `--mount ./data:/data` (a relative
 * host path, resolved by the CLI in its own directory) is read through `sandbox exec`; a writable
 * grant of the caller's own folder is written as the caller on namespace (on gVisor, whose gofer
 * writes as root, it is refused naming the control, as it is for `run`); `--network restricted`
 * with `--allow` reaches an allowlisted host service and nothing else; bad values are refused with
 * `run`'s own message and exit code.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, type CliRun } from '../../src/cli/test-cli.ts';
import { stretched } from '../security/lib/emulation.ts';
import { RUNTIMES } from '../security/lib/runtime.ts';
import { skipReason } from './environment.ts';
import { socketServer } from './serve-on-socket.ts';

const server = socketServer();
const reason = skipReason(server.config);
const env = { AIRLOCK_URL: `unix:${server.socket}` };
let work = '';
let hostService: Server | undefined;
let port = 0;

const anyRuntime = () => RUNTIMES.some((r) => reason(r) === false);

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'airlock-create-options-'));
  await chmod(work, 0o755);
  if (!anyRuntime()) return;
  await server.start();
  hostService = createServer((req, res) => res.end(`host service saw ${req.url ?? ''}`));
  await new Promise<void>((resolve) => hostService?.listen(0, '127.0.0.1', resolve));
  port = (hostService.address() as { port: number }).port;
});

after(async () => {
  await new Promise<void>((resolve) => (hostService === undefined ? resolve() : hostService.close(() => resolve())));
  const problems = await server.stop();
  if (problems.length > 0) process.stderr.write(`sandbox create options test cleanup: ${problems.join('; ')}\n`);
  await rm(work, { recursive: true, force: true });
});

/** The CLI in `cwd` (default: the test's folder), against the test's server. */
const cli = (args: string[], cwd = work) => runCli(args, { config: server.configFile, env, cwd });
const show = (r: CliRun) => `exit ${String(r.code)}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

/** Creates a sandbox with `args`, runs `fn` with its id, and kills it whatever happens. */
async function withSandbox(args: string[], fn: (id: string) => Promise<void>, cwd = work): Promise<void> {
  const created = await cli(['sandbox', 'create', ...args], cwd);
  assert.equal(created.code, 0, show(created));
  const id = created.stdout.trim();
  try {
    await fn(id);
  } finally {
    const killed = await cli(['sandbox', 'kill', id]);
    assert.equal(killed.code, 0, show(killed));
  }
}

/** A fresh folder `name` under the test's folder, owned by root (the caller here) with mode 0755, holding in.txt. */
async function dataFolder(name: string): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir);
  await chmod(dir, 0o755);
  await writeFile(join(dir, 'in.txt'), 'from the host\n');
  return dir;
}

for (const runtime of RUNTIMES) {
  describe(`sandbox create on ${runtime}`, { skip: reason(runtime) }, () => {
    test('--mount ./data:/data grants the folder read-only; sandbox exec reads it and cannot write it', { timeout: stretched(120_000) }, async () => {
      const project = join(work, `${runtime}-ro`);
      await mkdir(project);
      await dataFolder(`${runtime}-ro/data`);
      await withSandbox(['--runtime', runtime, '--mount', './data:/data'], async (id) => {
        const read = await cli(['sandbox', 'exec', id, '--', 'cat', '/data/in.txt']);
        assert.equal(read.code, 0, show(read));
        assert.equal(read.stdout, 'from the host\n');
        const write = await cli(['sandbox', 'exec', id, '--', 'sh', '-c', 'echo x > /data/new.txt']);
        assert.notEqual(write.code, 0, show(write));
        await assert.rejects(stat(join(project, 'data', 'new.txt')), { code: 'ENOENT' });
      }, project);
    });

    test('--mount ./data:/data:rw of the caller\'s own folder', { timeout: stretched(120_000) }, async () => {
      const project = join(work, `${runtime}-rw`);
      await mkdir(project);
      const data = await dataFolder(`${runtime}-rw/data`);
      if (runtime === 'gvisor') {
        // The documented gap (test/integration/grant-owner-writes.test.ts): no id-mapped grants on gVisor, refused with the fix.
        const refused = await cli(['sandbox', 'create', '--runtime', runtime, '--mount', './data:/data:rw'], project);
        assert.equal(refused.code, 1, show(refused));
        assert.match(refused.stderr, /^airlock: filesystem_access: cannot grant .*may not read and write it.*\[filesystem_access_refused\]\n$/s);
        // The same refusal `airlock run` gives for the same grant in the same folder.
        const run = await cli(['run', '--runtime', runtime, '--mount', './data:/data:rw', '--', 'true'], project);
        assert.equal(run.code, 1, show(run));
        const control = /refused: (filesystem_access: .*)\n$/s.exec(run.stderr)?.[1];
        assert.ok(control !== undefined && refused.stderr.includes(control), `${show(run)}\n---\n${show(refused)}`);
        return;
      }
      await withSandbox(['--runtime', runtime, '--mount', './data:/data:rw'], async (id) => {
        const write = await cli(['sandbox', 'exec', id, '--', 'sh', '-c', 'cat /data/in.txt && echo made > /data/out.txt']);
        assert.equal(write.code, 0, show(write));
        assert.equal(write.stdout, 'from the host\n');
        assert.equal(await readFile(join(data, 'out.txt'), 'utf8'), 'made\n');
        const st = await stat(join(data, 'out.txt'));
        // Written as the caller on the socket (root here), not as the sandbox's own host uid.
        assert.deepEqual([st.uid, st.gid], [process.getuid?.(), process.getgid?.()]);
      }, project);
    });

    test('--network restricted --allow reaches the allowlisted host service and nothing else', { timeout: stretched(120_000) }, async () => {
      const fetch = `
import sys, urllib.request, urllib.error
for url in sys.argv[1:]:
    try:
        print('OK', urllib.request.urlopen(url, timeout=10).read().decode())
    except urllib.error.HTTPError as e:
        print('HTTP', e.code, e.headers.get('X-Airlock-Deny-Reason'))
    except Exception as e:
        print('ERR', type(e).__name__)
`;
      const allow = `host.airlock.internal:${port}`;
      await withSandbox(['--runtime', runtime, '--network', 'restricted', '--allow', allow], async (id) => {
        const info = await cli(['sandbox', 'ls', '--json']);
        const listed = (JSON.parse(info.stdout) as Array<{ sandbox_id: string; network_policy: string; allowed_hosts: string[] }>).find((s) => s.sandbox_id === id);
        assert.deepEqual([listed?.network_policy, listed?.allowed_hosts], ['restricted', [allow]]);
        const got = await cli(['sandbox', 'exec', id, '--', 'python3', '-c', fetch, `http://${allow}/v1/models`, 'http://example.com/']);
        assert.equal(got.code, 0, show(got));
        assert.equal(got.stdout, 'OK host service saw /v1/models\nHTTP 403 not_allowlisted\n');
      });
    });
  });
}

describe('bad values: sandbox create says what run says', { skip: anyRuntime() ? false : 'no runtime here to compare against' }, () => {
  const BAD: string[][] = [
    ['--mount', './data:/data:rx'],
    ['--mount', 'data'],
    ['--mount', './data:/proc/x'],
    ['--network', 'open'],
    ['--allow', 'pypi.org'],
    ['--network', 'restricted', '--allow', 'http://pypi.org/simple'],
    ['--memory', '-5'],
    ['--pids', '1.5'],
    ['--runtime', 'docker'],
    ['--image', 'no such image'],
    ['--env', '1BAD=x'],
    ['--secret', 'Upper'],
  ];
  for (const args of BAD) {
    test(args.join(' '), async () => {
      const run = await cli(['run', ...args, '--', 'true']);
      const create = await cli(['sandbox', 'create', ...args]);
      assert.equal(run.code, 2, show(run));
      assert.match(run.stderr, /^airlock: --[a-z/-]+: /);
      assert.deepEqual([create.code, create.stderr], [run.code, run.stderr], show(create));
      assert.equal(create.stdout, '');
    });
  }
});
