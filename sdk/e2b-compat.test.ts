/**
 * E2B's surface of the SDK against a real server (the table in docs/sdk.md, row by row): code
 * written for E2B's `Sandbox` runs here with the meaning it has there. Real sandboxes, on each
 * runtime; skipped, with the reason, where this host can't run them.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { CommandExitError, InvalidRequestError, NetworkError, RateLimitError, Sandbox, SandboxNotFoundError, TimeoutError, type CommandHandle, type FilesystemEvent } from './index.ts';
import { realServerSkipReason, startRealServer, type RealServer } from './testing/server.ts';
import { loadConfig } from '../src/config/config.ts';
import { availability, RUNTIMES } from '../test/security/lib/runtime.ts';

const serverSkip = await realServerSkipReason();
/** Why each runtime can't be tested here, or false. */
const runtimeSkip = Object.fromEntries(
  await Promise.all(RUNTIMES.map(async (runtime) => [runtime, serverSkip || (await availability(runtime, loadConfig()).then((a) => (a.ok ? false : a.reason)))] as const)),
);

/** Polls `check` until it returns true or `ms` pass. */
async function eventually(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return check();
}

/** Milliseconds from now until `iso`. */
const msUntil = (iso: string | Date) => new Date(iso).getTime() - Date.now();

for (const runtime of RUNTIMES) describe(`E2B-compatible SDK against a real server (${runtime})`, { skip: runtimeSkip[runtime] }, () => {
  let server: RealServer;
  let sandbox: Sandbox;

  before(async () => {
    server = await startRealServer({ maxSandboxes: 3 });
    // As a user would: the server comes from the environment, no connection options in the code.
    process.env['AIRLOCK_URL'] = server.url;
    sandbox = await Sandbox.create(server.config.defaultImage, { runtime, timeoutMs: 120_000, envs: { GREETING: 'hello' }, metadata: { suite: 'e2b' } });
  });
  after(async () => {
    delete process.env['AIRLOCK_URL'];
    await server?.close();
  });

  it('Sandbox.create(template, {timeoutMs, envs, metadata}) from AIRLOCK_URL; sandboxId; getInfo()', async () => {
    assert.match(sandbox.sandboxId, /^[A-Za-z0-9_-]+$/);
    const info = await sandbox.getInfo();
    assert.equal(info.sandboxId, sandbox.sandboxId);
    assert.equal(info.templateId, server.config.defaultImage);
    assert.deepEqual(info.metadata, { suite: 'e2b' });
    assert.equal(info.state, 'running');
    assert.equal(info.info.runtime, runtime);
    assert.ok(info.startedAt instanceof Date && msUntil(info.startedAt) <= 0);
    const left = msUntil(info.endAt);
    assert.ok(left > 100_000 && left <= 121_000, `timeoutMs 120 000 → ends in ${left} ms`);
    assert.equal((await sandbox.commands.run('echo "$GREETING"')).stdout, 'hello\n');
  });

  it('setTimeout(ms) takes milliseconds: 60 000 ends it in a minute, not in 16.7 hours', async () => {
    const info = await sandbox.setTimeout(60_000);
    const left = msUntil(info.expires_at);
    assert.ok(left > 55_000 && left <= 61_000, `ends in ${left} ms`);
    const statically = await Sandbox.setTimeout(sandbox.sandboxId, 120_000);
    assert.ok(msUntil(statically.expires_at) > 115_000);
  });

  it('commands.run(cmd, {envs, cwd, timeoutMs, onStdout, onStderr})', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const result = await sandbox.commands.run('echo "$A$B"; pwd; echo warn >&2', { envs: { A: 'x', B: 'y' }, cwd: '/usr', onStdout: (t) => out.push(t), onStderr: (t) => err.push(t) });
    assert.equal(result.exitCode, 0);
    assert.equal(result.stdout, 'xy\n/usr\n');
    assert.equal(out.join(''), result.stdout);
    assert.equal(err.join(''), 'warn\n');
    await assert.rejects(sandbox.commands.run('exit 4'), (e: unknown) => e instanceof CommandExitError && e.exitCode === 4);
    await assert.rejects(sandbox.commands.run('sleep 20', { timeoutMs: 500 }), TimeoutError);
  });

  it('commands.run(…, {background: true}): a handle with pid, wait() and kill()', async () => {
    const done = (await sandbox.commands.run('sleep 0.3; echo finished', { background: true })) as CommandHandle;
    assert.notEqual(done.pid, '', 'the handle has its id once run resolves');
    assert.equal(done.exitCode, undefined);
    assert.equal((await done.wait()).stdout, 'finished\n');
    assert.equal(done.exitCode, 0);
    const forever = (await sandbox.commands.run('sleep 300', { background: true })) as CommandHandle;
    assert.equal(await forever.kill(), true);
    await assert.rejects(forever.wait(), (e: unknown) => e instanceof CommandExitError && e.result.terminationReason === 'killed');
  });

  it('commands.list() shows running commands; commands.kill(pid) ends one, false for none', async () => {
    const handle = (await sandbox.commands.run(['sleep', '301'], { background: true, cwd: '/usr' })) as CommandHandle;
    const listed = await sandbox.commands.list();
    const mine = listed.find((p) => p.pid === handle.pid);
    assert.deepEqual(mine && { cmd: mine.cmd, args: mine.args, cwd: mine.cwd }, { cmd: 'sleep', args: ['301'], cwd: '/usr' }, JSON.stringify(listed));
    assert.equal(await sandbox.commands.kill(handle.pid), true);
    await assert.rejects(handle.wait(), (e: unknown) => e instanceof CommandExitError && e.result.terminationReason === 'killed');
    assert.ok(await eventually(async () => !(await sandbox.commands.list()).some((p) => p.pid === handle.pid), 5000), 'gone from the list');
    assert.equal(await sandbox.commands.kill(handle.pid), false, 'an ended command: false');
    await assert.rejects(sandbox.commands.kill('not an id!'), (e: unknown) => e instanceof InvalidRequestError && /exec_id/.test(e.message));
  });

  it('files.write/read/list/exists/makeDir/rename/remove', async () => {
    const { files } = sandbox;
    assert.equal(await files.makeDir('/tmp/e2b/nested'), true);
    assert.equal(await files.makeDir('/tmp/e2b/nested'), false, 'false when it already existed');
    await files.write('/tmp/e2b/a.txt', 'alpha');
    const many = await files.write([{ path: '/tmp/e2b/b.bin', data: new Uint8Array([0, 1, 255]) }, { path: '/tmp/e2b/c.txt', data: 'gamma' }]);
    assert.deepEqual(many.map((w) => w.size), [3, 5]);
    assert.equal(await files.read('/tmp/e2b/a.txt'), 'alpha');
    assert.deepEqual([...(await files.read('/tmp/e2b/b.bin', { format: 'bytes' }))], [0, 1, 255]);
    assert.equal(await (await files.read('/tmp/e2b/c.txt', { format: 'blob' })).text(), 'gamma');
    assert.equal(await new Response(await files.read('/tmp/e2b/a.txt', { format: 'stream' })).text(), 'alpha');
    assert.deepEqual((await files.list('/tmp/e2b')).map((e) => `${e.name}:${e.type}`).sort(), ['a.txt:file', 'b.bin:file', 'c.txt:file', 'nested:dir']);
    assert.equal(await files.exists('/tmp/e2b/a.txt'), true);
    assert.equal(await files.exists('/tmp/e2b/none'), false);
    assert.equal(await files.exists('/tmp/no-such-dir/none'), false);
    const moved = await files.rename('/tmp/e2b/a.txt', '/tmp/e2b/nested/z.txt');
    assert.equal(moved.path, '/tmp/e2b/nested/z.txt');
    assert.equal(await files.exists('/tmp/e2b/a.txt'), false);
    assert.equal(await files.read('/tmp/e2b/nested/z.txt'), 'alpha');
    await files.remove('/tmp/e2b/nested');
    assert.equal(await files.exists('/tmp/e2b/nested'), false);
    await files.remove('/tmp/e2b/nested');
    await assert.rejects(files.rename('/tmp/e2b/none', '/tmp/e2b/x'), /mv: /);
    await assert.rejects(files.remove('relative/path'), /must be an absolute path/);
  });

  it('files.watchDir reports create, write and remove; stop() ends it', async () => {
    await sandbox.files.makeDir('/tmp/watched');
    const events: FilesystemEvent[] = [];
    let exited = false;
    const watch = await sandbox.files.watchDir('/tmp/watched', (e) => void events.push(e), { intervalMs: 150, onExit: () => (exited = true) });
    await sandbox.files.write('/tmp/watched/f', 'one');
    assert.ok(await eventually(() => events.some((e) => e.name === 'f' && e.type === 'create'), 5000), JSON.stringify(events));
    await sandbox.commands.run('sleep 1.1; echo more >> /tmp/watched/f');
    assert.ok(await eventually(() => events.some((e) => e.name === 'f' && e.type === 'write'), 5000), JSON.stringify(events));
    await sandbox.files.remove('/tmp/watched/f');
    assert.ok(await eventually(() => events.some((e) => e.name === 'f' && e.type === 'remove'), 5000), JSON.stringify(events));
    await watch.stop();
    assert.equal(exited, true);
    const seen = events.length;
    await sandbox.files.write('/tmp/watched/g', 'late');
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(events.length, seen, 'no event after stop()');
  });

  it('static Sandbox.connect(id, {timeoutMs}), list(), getInfo(), kill(id)', async () => {
    const other = await Sandbox.create({ runtime, metadata: { suite: 'e2b-other' } });
    const again = await Sandbox.connect(other.sandboxId, { timeoutMs: 90_000 });
    assert.equal(again.sandboxId, other.sandboxId);
    assert.ok(msUntil((await again.info()).expires_at) <= 91_000);
    assert.ok((await Sandbox.list()).some((s) => s.sandbox_id === other.sandboxId && s.state === 'running'));
    assert.equal((await Sandbox.getInfo(other.sandboxId)).metadata['suite'], 'e2b-other');
    assert.equal(await Sandbox.kill(other.sandboxId), true);
    assert.equal(await Sandbox.kill(other.sandboxId), false, 'an ended sandbox: false');
    assert.equal(await Sandbox.kill('sbx-never-existed'), false, 'an unknown sandbox: false');
    await assert.rejects(Sandbox.connect('sbx-never-existed'), SandboxNotFoundError);
  });

  it('429 at capacity: retried as Retry-After says, or thrown when retries are off', async () => {
    // The cap is 3: this sandbox, and two more fill it.
    const fill = [await Sandbox.create({ runtime }), await Sandbox.create({ runtime })];
    await assert.rejects(Sandbox.create({ runtime, retry: false }), (e: unknown) => e instanceof RateLimitError && e.retryAfter === 1);
    const started = Date.now();
    setTimeout(() => void fill[0]?.kill(), 300);
    const late = await Sandbox.create({ runtime, retry: { retries: 5 } });
    assert.ok(Date.now() - started >= 900, 'it waited for Retry-After');
    await Promise.all([late.kill(), fill[1]?.kill()]);
  });

  it('a server that is not there: the error names the cause', async () => {
    // A port that was just free: listen, note it, close.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await assert.rejects(Sandbox.connect(sandbox.sandboxId, { baseUrl: `http://127.0.0.1:${port}`, retry: false }), (e: unknown) => e instanceof NetworkError && e.message.endsWith(`fetch failed (ECONNREFUSED 127.0.0.1:${port})`));
  });
});
