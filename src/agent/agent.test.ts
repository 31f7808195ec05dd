/**
 * The real agent, built from agent/airlock-agent.c and run directly on the host as an
 * unprivileged uid: the protocol end to end, fast. (agent-sandbox.test.ts runs it in sandboxes.)
 * Skipped, with the reason, where this host can't build it or switch uids.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { AgentFileError, AgentProtocolError } from './errors.ts';
import { findExecutable } from '../host/which.ts';
import { buildTestAgent, eventually, groupMembers, PROBE_AGENT, run, startHostAgent, TEST_UID, type HostAgent } from './test-agent.ts';

const skip = process.getuid?.() !== 0 ? 'needs root to run the agent as an unprivileged uid' : findExecutable('gcc') === undefined ? 'gcc is not installed' : false;
const isFileError = (code: string) => (e: unknown) => e instanceof AgentFileError && e.code === code;

describe('agent on the host', { skip }, () => {
  let stateDir = '';
  let binary = '';
  let work = '';
  let agent: HostAgent;
  before(async () => {
    const built = await buildTestAgent();
    stateDir = built.stateDir;
    binary = built.agent.path;
    work = `${stateDir}/work`;
    agent = startHostAgent(binary, work);
    await agent.client.ready();
  });
  after(() => {
    agent?.client.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('answers a ping', async () => {
    await agent.client.ping();
  });

  it('--init runs a command as its child and exits with its status (128+N for a signal)', () => {
    const init = (cmd: string) => spawnSync(binary, ['--init', '--', 'sh', '-c', cmd], { encoding: 'utf8', uid: TEST_UID, gid: TEST_UID, env: { PATH: '/usr/bin:/bin' } });
    const ok = init('echo from-child; exit 3');
    assert.equal(ok.stdout, 'from-child\n');
    assert.equal(ok.status, 3);
    assert.equal(init('kill -9 $$').status, 137);
    const missing = spawnSync(binary, ['--init', '--', 'no-such-command-here'], { encoding: 'utf8', uid: TEST_UID, gid: TEST_UID, env: { PATH: '/usr/bin:/bin' } });
    assert.equal(missing.status, 127);
    assert.match(missing.stderr, /no-such-command-here/);
  });

  it('runs 64 commands at once, each with its own output and exit code', async () => {
    const results = await Promise.all(
      Array.from({ length: 64 }, (_, i) => run(agent.client, ['sh', '-c', 'echo "out $0"; echo "err $0" >&2; exit $(($0 % 7))', String(i)])),
    );
    results.forEach((r, i) => {
      assert.equal(r.stdout, `out ${i}\n`);
      assert.equal(r.stderr, `err ${i}\n`);
      assert.equal(r.code, i % 7);
    });
  });

  it('pipes stdin through cat, more than the window, byte for byte', async () => {
    const input = randomBytes(3 * 1024 * 1024).toString('base64');
    const r = await run(agent.client, ['cat'], { input });
    assert.equal(r.stdout.length, input.length);
    assert.equal(r.stdout, input);
  });

  it('streams large output completely (back-pressure, not loss)', async () => {
    const r = await run(agent.client, ['head', '-c', String(20 * 1024 * 1024), '/dev/zero']);
    assert.equal(r.stdout.length, 20 * 1024 * 1024);
  });

  it('kill ends the whole process group, children included', async () => {
    const handle = agent.client.exec({ argv: ['sh', '-c', 'sleep 100 & sleep 100 & wait'], env: { PATH: '/usr/bin:/bin' }, cwd: '/' });
    const pid = await handle.pid;
    assert.ok(await eventually(() => groupMembers(pid).length === 3), `group ${pid}: ${groupMembers(pid).join(',')}`);
    handle.kill();
    assert.deepEqual(await handle.exit, { code: null, signal: 'SIGKILL', timedOut: false });
    assert.ok(await eventually(() => groupMembers(pid).length === 0), `left behind: ${groupMembers(pid).join(',')}`);
  });

  it('times out a command and kills its group', async () => {
    const handle = agent.client.exec({ argv: ['sleep', '100'], env: { PATH: '/usr/bin:/bin' }, cwd: '/', timeoutMs: 100 });
    assert.deepEqual(await handle.exit, { code: null, signal: 'SIGKILL', timedOut: true });
  });

  it('reports exit codes, signals and commands that cannot run', async () => {
    assert.equal((await run(agent.client, ['sh', '-c', 'exit 3'])).code, 3);
    assert.equal((await run(agent.client, ['sh', '-c', 'kill -TERM $$'])).signal, 'SIGTERM');
    const missing = await run(agent.client, ['no-such-command-here']);
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /no-such-command-here: No such file or directory/);
    assert.equal((await run(agent.client, ['/etc/hostname'])).code, 126);
    const badCwd = await run(agent.client, ['true'], { cwd: '/nonexistent' });
    assert.equal(badCwd.code, 127);
    assert.match(badCwd.stderr, /cannot enter \/nonexistent/);
  });

  it('gives a command exactly the environment and directory asked for, and no agent descriptors', async () => {
    const r = await run(agent.client, ['sh', '-c', 'env | sort; pwd; ls /proc/self/fd | wc -l'], { env: { PATH: '/usr/bin:/bin', X: 'a b' }, cwd: '/tmp' });
    // PWD is set by sh itself; 4 descriptors: 0-2 and the one ls opened to read the directory.
    assert.equal(r.stdout, 'PATH=/usr/bin:/bin\nPWD=/tmp\nX=a b\n/tmp\n4\n');
  });

  it('keeps commands of the same uid out of its memory and descriptors', async () => {
    const { pid } = await agent.client.ready();
    const r = await run(agent.client, ['sh', '-c', PROBE_AGENT, 'probe', String(pid)]);
    assert.equal(r.stdout, 'done\n');
  });

  it('writes and reads back a file larger than a frame, with its mode', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    await agent.client.writeFile(`${work}/blob`, data, 0o640);
    assert.deepEqual(await agent.client.readFile(`${work}/blob`, data.length), data);
    const st = await agent.client.stat(`${work}/blob`);
    assert.deepEqual([st.type, st.size, st.mode, st.name], ['file', data.length, 0o640, 'blob']);
    assert.equal(lstatSync(`${work}/blob`).uid, TEST_UID);
    await assert.rejects(agent.client.readFile(`${work}/blob`, data.length - 1), isFileError('EFBIG'));
  });

  it('lists a directory without following symlinks', async () => {
    mkdirSync(`${work}/list/sub`, { recursive: true });
    writeFileSync(`${work}/list/file`, 'abc');
    symlinkSync('/etc', `${work}/list/link`);
    const entries = (await agent.client.list(`${work}/list`)).sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(entries.map((e) => [e.name, e.type]), [['file', 'file'], ['link', 'symlink'], ['sub', 'dir']]);
    assert.equal(entries[0]?.size, 3);
  });

  it('reports errno names: ENOENT, ELOOP, EISDIR, ENOTDIR, EACCES, EINVAL', async () => {
    symlinkSync(`${work}/loop-b`, `${work}/loop-a`);
    symlinkSync(`${work}/loop-a`, `${work}/loop-b`);
    await assert.rejects(agent.client.readFile(`${work}/missing`, 10), isFileError('ENOENT'));
    await assert.rejects(agent.client.readFile(`${work}/loop-a`, 10), isFileError('ELOOP'));
    await assert.rejects(agent.client.readFile(work, 10), isFileError('EISDIR'));
    await assert.rejects(agent.client.list(`${work}/blob`), isFileError('ENOTDIR'));
    await assert.rejects(agent.client.readFile('/etc/shadow', 1 << 20), isFileError('EACCES'));
    await assert.rejects(agent.client.readFile('/dev/zero', 10), isFileError('EINVAL'));
    await assert.rejects(agent.client.writeFile('/etc/airlock-agent-test', 'x'), isFileError('EACCES'));
    await assert.rejects(agent.client.writeFile(`${work}/`, 'x'), isFileError('EISDIR'));
  });

  it('replaces a symlink at the final component on write instead of following it', async () => {
    writeFileSync(`${stateDir}/outside`, 'original');
    symlinkSync(`${stateDir}/outside`, `${work}/link-out`);
    await agent.client.writeFile(`${work}/link-out`, 'replaced');
    assert.equal(readFileSync(`${stateDir}/outside`, 'utf8'), 'original');
    assert.ok(lstatSync(`${work}/link-out`).isFile());
    assert.equal(readFileSync(`${work}/link-out`, 'utf8'), 'replaced');
  });

  it('mkdir -p and a recursive remove that never follows a symlink out', async () => {
    await agent.client.mkdir(`${work}/tree/a/b`, { parents: true, mode: 0o700 });
    await agent.client.mkdir(`${work}/tree/a/b`, { parents: true });
    await assert.rejects(agent.client.mkdir(`${work}/tree/a/b`), isFileError('EEXIST'));
    assert.equal((await agent.client.stat(`${work}/tree/a/b`)).mode, 0o700);
    mkdirSync(`${stateDir}/keep`);
    writeFileSync(`${stateDir}/keep/file`, 'keep');
    symlinkSync(`${stateDir}/keep`, `${work}/tree/a/out`);
    await assert.rejects(agent.client.remove(`${work}/tree`), isFileError('ENOTEMPTY'));
    await agent.client.remove(`${work}/tree`, { recursive: true });
    await assert.rejects(agent.client.stat(`${work}/tree`), isFileError('ENOENT'));
    assert.equal(readFileSync(`${stateDir}/keep/file`, 'utf8'), 'keep');
  });

  it('kills every command and exits when the host closes the channel', async () => {
    const other = startHostAgent(binary, work);
    await other.client.ready();
    const handle = other.client.exec({ argv: ['sh', '-c', 'sleep 100 & sleep 100 & wait'], env: { PATH: '/usr/bin:/bin' }, cwd: '/' });
    const pid = await handle.pid;
    assert.ok(await eventually(() => groupMembers(pid).length === 3));
    other.client.close();
    assert.deepEqual(await other.exit, { code: 0, signal: null });
    assert.ok(await eventually(() => groupMembers(pid).length === 0), `left behind: ${groupMembers(pid).join(',')}`);
  });

  it('exits non-zero on a malformed frame, saying why', async () => {
    const other = startHostAgent(binary, work);
    await other.client.ready();
    other.child.stdin?.write(Buffer.from([0x7e, 1, 0, 0, 0, 0, 0, 0, 0]));
    assert.deepEqual(await other.exit, { code: 2, signal: null });
    const reason = await other.client.closed;
    assert.ok(reason instanceof AgentProtocolError);
    assert.match(reason.message, /unknown request type 0x7e/);
    assert.match(other.stderr(), /protocol error/);
  });
});
