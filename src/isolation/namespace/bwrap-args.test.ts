import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildBwrapArgs, buildLauncherArgs, launchLimits, FD } from './bwrap-args.ts';
import type { SandboxSpec } from '../driver.ts';

const spec: SandboxSpec = {
  id: 'x-1',
  image: { name: 'default', digest: `sha256:${'a'.repeat(64)}`, rootfs: '/var/lib/airlock/images/blobs/sha256/aa/rootfs' },
  limits: { memoryMb: 512, cpuCores: 0.5, pids: 64, timeoutSeconds: 10, scratchMb: 32, outputBytes: 1024, openFiles: 256 },
  env: { PATH: '/usr/bin:/bin', FOO: 'bar baz' },
  mounts: [
    { hostPath: '/srv/data', sandboxPath: '/data', writable: false },
    { hostPath: '/srv/out', sandboxPath: '/out', writable: true },
  ],
  workdir: '/tmp',
  network: { kind: 'isolated' },
};

function pairs(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1] ?? ''] : []));
}

test('every namespace is unshared, none with a -try fallback', () => {
  const args = buildBwrapArgs({ spec, command: ['true'], mountFds: [6, 7], procMasks: [] });
  for (const ns of ['user', 'pid', 'net', 'ipc', 'uts', 'cgroup']) assert.ok(args.includes(`--unshare-${ns}`), ns);
  assert.ok(!args.some((a) => a.endsWith('-try')));
  assert.ok(!args.includes('--share-net'));
});

test('a persistent sandbox runs its agent as pid 1: no dumpable reaper holds the control channel', () => {
  assert.ok(!buildBwrapArgs({ spec, command: ['true'], mountFds: [6, 7], procMasks: [] }).includes('--as-pid-1'));
  const agent = buildBwrapArgs({ spec: { ...spec, agentDir: '/var/lib/airlock/agent/k' }, command: ['/run/airlock/airlock-agent'], mountFds: [6, 7], procMasks: [] });
  assert.ok(agent.includes('--as-pid-1'));
});

test('/proc paths that show the host are bound over, after /proc is mounted', () => {
  const procMasks = [{ source: '/state/proc-masks/empty', path: '/proc/cmdline' }, { source: '/state/proc-masks/dir', path: '/proc/pressure' }];
  const args = buildBwrapArgs({ spec, command: ['true'], mountFds: [6, 7], procMasks });
  const proc = args.indexOf('--proc');
  for (const mask of procMasks) {
    const at = args.findIndex((a, i) => a === '--ro-bind' && args[i + 1] === mask.source && args[i + 2] === mask.path);
    assert.ok(at > proc, `${mask.path} is bound read-only after /proc`);
  }
});

test('sandbox user is nobody, caps dropped, new session, dies with parent', () => {
  const args = buildBwrapArgs({ spec, command: ['true'], mountFds: [6, 7], procMasks: [] });
  assert.deepEqual(pairs(args, '--uid'), ['65534']);
  assert.deepEqual(pairs(args, '--gid'), ['65534']);
  assert.deepEqual(pairs(args, '--cap-drop'), ['ALL']);
  assert.ok(args.includes('--new-session'));
  assert.ok(args.includes('--die-with-parent'));
});

test('root is the image read-only; the only writable tmpfs is sized', () => {
  const args = buildBwrapArgs({ spec, command: ['true'], mountFds: [6, 7], procMasks: [] });
  const i = args.indexOf('--ro-bind');
  assert.deepEqual(args.slice(i, i + 3), ['--ro-bind', spec.image.rootfs, '/']);
  const tmp = args.findIndex((a, i) => a === '--tmpfs' && args[i + 1] === '/tmp');
  assert.ok(tmp > 0);
  assert.equal(args[tmp - 3], String(32 * 1024 * 1024));
  assert.equal(args[tmp - 4], '--size');
  assert.ok(args.includes('--remount-ro'));
});

test('granted mounts bind pinned fds, read-only unless writable', () => {
  const args = buildBwrapArgs({ spec, command: ['true'], mountFds: [6, 7], procMasks: [] });
  const ro = args.indexOf('--ro-bind-fd');
  assert.deepEqual(args.slice(ro, ro + 3), ['--ro-bind-fd', '6', '/data']);
  const rw = args.indexOf('--bind-fd');
  assert.deepEqual(args.slice(rw, rw + 3), ['--bind-fd', '7', '/out']);
  assert.ok(!args.includes('/srv/data'), 'host paths are never passed by name');
  assert.throws(() => buildBwrapArgs({ spec, command: ['true'], mountFds: [6], procMasks: [] }));
});

test('environment is cleared, then exactly the spec env is set', () => {
  const args = buildBwrapArgs({ spec, command: ['true'], mountFds: [6, 7], procMasks: [] });
  const clear = args.indexOf('--clearenv');
  const firstSet = args.indexOf('--setenv');
  assert.ok(clear >= 0 && clear < firstSet);
  assert.deepEqual(pairs(args, '--setenv'), ['PATH', 'FOO']);
  assert.equal(args[args.indexOf('FOO') + 1], 'bar baz');
});

test('seccomp, info and block fds are wired, command follows --', () => {
  const args = buildBwrapArgs({ spec, command: ['python3', '-c', 'print(1)'], mountFds: [6, 7], procMasks: [] });
  assert.deepEqual(pairs(args, '--seccomp'), [String(FD.seccomp)]);
  assert.deepEqual(pairs(args, '--info-fd'), [String(FD.info)]);
  assert.deepEqual(pairs(args, '--block-fd'), [String(FD.block)]);
  assert.deepEqual(args.slice(args.indexOf('--') + 1), ['python3', '-c', 'print(1)']);
});

test('the launch step sets RLIMIT_NOFILE and disables core dumps', () => {
  assert.deepEqual(launchLimits(spec), { openFiles: 256, noCore: true });
});

test('a generated resolv.conf is a read-only copy bwrap makes from a pipe, never a host file', () => {
  const bare = { ...spec, mounts: [] };
  const args = buildBwrapArgs({ spec: { ...bare, resolvConf: 'nameserver 1.1.1.1\n' }, command: ['true'], mountFds: [], resolvConfFd: 9, procMasks: [] });
  const at = args.indexOf('--ro-bind-data');
  assert.deepEqual(args.slice(at - 2, at + 3), ['--perms', '0444', '--ro-bind-data', '9', '/etc/resolv.conf']);
  assert.ok(!buildBwrapArgs({ spec: bare, command: ['true'], mountFds: [], procMasks: [] }).includes('--ro-bind-data'));
  assert.throws(() => buildBwrapArgs({ spec: { ...bare, resolvConf: 'x' }, command: ['true'], mountFds: [], procMasks: [] }), /no fd/);
});

test('a trust bundle (broker CA) is a read-only copy bwrap makes from a pipe over the image\'s bundle', () => {
  const bare = { ...spec, mounts: [] };
  const args = buildBwrapArgs({ spec: { ...bare, trustBundle: 'PEM\n' }, command: ['true'], mountFds: [], trustBundleFd: 11, procMasks: [] });
  const at = args.indexOf('--ro-bind-data');
  assert.deepEqual(args.slice(at - 2, at + 3), ['--perms', '0444', '--ro-bind-data', '11', '/etc/ssl/certs/ca-certificates.crt']);
  assert.throws(() => buildBwrapArgs({ spec: { ...bare, trustBundle: 'x' }, command: ['true'], mountFds: [], procMasks: [] }), /no fd for the trust bundle/);
});

test('an attached network is joined, not unshared', () => {
  const bare = { ...spec, mounts: [] };
  const attached = { ...bare, network: { kind: 'attached' as const, netnsPath: '/run/netns/airlock-n1' } };
  assert.ok(!buildBwrapArgs({ spec: attached, command: ['true'], mountFds: [], procMasks: [] }).includes('--unshare-net'));
  assert.ok(buildBwrapArgs({ spec: bare, command: ['true'], mountFds: [], procMasks: [] }).includes('--unshare-net'));
  assert.deepEqual(buildLauncherArgs(attached, 1500000007, '/usr/bin/nsenter'), {
    asRoot: true,
    program: '/usr/bin/nsenter',
    prefix: ['--net=/run/netns/airlock-n1', '-S', '1500000007', '-G', '1500000007', '--'],
  });
  assert.deepEqual(buildLauncherArgs(spec, 1500000007, '/usr/bin/nsenter'), { asRoot: false, prefix: [] });
});

test('a working directory below /tmp is made on the scratch (after /tmp, before the chdir); elsewhere it is not', () => {
  const args = (workdir: string, mounts = spec.mounts) => buildBwrapArgs({ spec: { ...spec, workdir, mounts }, command: ['true'], mountFds: mounts.map((_, i) => 6 + i), procMasks: [] });
  const made = args('/tmp/work/a');
  const dir = made.indexOf('--dir');
  assert.equal(made[dir + 1], '/tmp/work/a');
  assert.ok(dir > made.findIndex((a, i) => a === '--tmpfs' && made[i + 1] === '/tmp'), 'made on the scratch tmpfs');
  assert.ok(dir < made.indexOf('--chdir'));
  for (const workdir of ['/tmp', '/usr/share', '/tmpx']) assert.deepEqual(pairs(args(workdir), '--dir'), [], workdir);
  // Inside a grant the directory is the grant's: nothing is made in the host's tree.
  assert.deepEqual(pairs(args('/tmp/in/sub', [{ hostPath: '/srv/in', sandboxPath: '/tmp/in', writable: true }]), '--dir'), []);
});

test('a root built around the image replaces the image bind, and / is remounted read-only after every grant', () => {
  const root = ['--ro-bind', '/img/etc', '/etc', '--symlink', 'usr/bin', '/bin'];
  const args = buildBwrapArgs({ spec, command: ['true'], mountFds: [6, 7], procMasks: [], root });
  assert.ok(!args.some((a, i) => a === '--ro-bind' && args[i + 1] === spec.image.rootfs), 'the image is not bound at /');
  const at = args.indexOf('--symlink');
  assert.deepEqual(args.slice(at - 3, at + 3), root);
  const remount = args.findIndex((a, i) => a === '--remount-ro' && args[i + 1] === '/');
  const lastGrant = args.lastIndexOf('--bind-fd');
  assert.ok(remount > lastGrant && remount < args.indexOf('--chdir'), 'remounted after the grants, before the command');
  const plain = buildBwrapArgs({ spec, command: ['true'], mountFds: [6, 7], procMasks: [] });
  assert.ok(!plain.some((a, i) => a === '--remount-ro' && plain[i + 1] === '/'), 'the image bound at / needs no remount');
});

test('the write watcher runs the command innermost, after the logging filter; its fd says when the command is the agent', () => {
  const onPathProbe = () => undefined;
  const watched = { ...spec, denialAuid: 7, onPathProbe };
  const args = buildBwrapArgs({ spec: watched, command: ['python3', '-c', 'x'], mountFds: [6, 7], procMasks: [], seccompLog: { fd: 9, agentDir: '/a' }, writeWatch: { fd: 10, agentDir: '/a' } });
  const tail = args.slice(args.indexOf('--') + 1);
  assert.deepEqual(tail, ['/run/airlock/airlock-agent', '--seccomp-log', '9', '--', '/run/airlock/airlock-agent', '--watch-writes', '10', '--', 'python3', '-c', 'x']);
  const agent = buildBwrapArgs({ spec: { ...watched, agentDir: '/a' }, command: ['/run/airlock/airlock-agent'], mountFds: [6, 7], procMasks: [], seccompLog: { fd: 9, agentDir: '/a' }, writeWatch: { fd: 10, agentDir: '/a' } });
  assert.ok(agent.includes('10:agent'), 'the agent\'s own (host-requested) calls are not reported as unseen');
  assert.throws(() => buildBwrapArgs({ spec: { ...spec, onPathProbe }, command: ['true'], mountFds: [6, 7], procMasks: [] }), /write watcher/);
  const alone = buildBwrapArgs({ spec: { ...spec, onPathProbe }, command: ['true'], mountFds: [6, 7], procMasks: [], writeWatch: { fd: 8, agentDir: '/w' } });
  assert.deepEqual(pairs(alone, '--ro-bind').filter((p) => p === '/w'), ['/w'], 'the watcher\'s agent is bound');
});
