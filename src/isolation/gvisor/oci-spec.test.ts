import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type SandboxSpec } from '../driver.ts';
import { ControlError } from '../../host/control-error.ts';
import { DEFAULT_PROFILE, toOciSeccomp } from '../seccomp/index.ts';
import { buildOciSpec, checkSandboxPath, MASKED_PATHS, SANDBOX_UID, type OciHostPaths } from './oci-spec.ts';

const seccomp = toOciSeccomp(DEFAULT_PROFILE, 'x86_64');

function spec(overrides: Partial<SandboxSpec> = {}): SandboxSpec {
  return {
    id: 'sb-1',
    image: { name: 'default', digest: `sha256:${'a'.repeat(64)}`, rootfs: '/var/lib/airlock/images/blobs/sha256/aa/rootfs' },
    limits: { memoryMb: 512, cpuCores: 0.5, pids: 256, timeoutSeconds: 60, scratchMb: 64, outputBytes: 1024, openFiles: 1024 },
    env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' },
    mounts: [],
    workdir: '/tmp',
    network: { kind: 'isolated' },
    ...overrides,
  };
}

function host(overrides: Partial<OciHostPaths> = {}): OciHostPaths {
  return {
    rootfs: '/run/airlock/gvisor/sb-1/root',
    scratchDir: '/run/airlock/gvisor/sb-1/scratch',
    emptyFile: '/run/airlock/gvisor/sb-1/hide/empty',
    emptyDir: '/run/airlock/gvisor/sb-1/hide/dir',
    mountSources: [],
    cgroupsPath: '/airlock/sb-1',
    hostPidsMax: 8320,
    ...overrides,
  };
}

const command = { argv: ['/bin/sh', '-c', 'echo hi'], stdin: false };

describe('buildOciSpec', () => {
  it('runs the command as uid/gid 65534 with every capability set empty and no_new_privs', () => {
    const oci = buildOciSpec(spec(), command, seccomp, host());
    assert.equal(SANDBOX_UID, 65534);
    assert.deepEqual(oci.process.user, { uid: 65534, gid: 65534, additionalGids: [] });
    assert.deepEqual(oci.process.capabilities, { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] });
    assert.equal(oci.process.noNewPrivileges, true);
    assert.equal(oci.process.terminal, false);
    assert.deepEqual(oci.process.args, command.argv);
    assert.equal(oci.process.cwd, '/tmp');
  });

  it('runs a one-shot command under the agent init, mounted read-only, when asked', () => {
    const oci = buildOciSpec(spec({ agentDir: '/var/lib/airlock/agent/k' }), command, seccomp, host({ init: true }));
    assert.deepEqual(oci.process.args, ['/run/airlock/airlock-agent', '--init', '--', ...command.argv]);
    const agent = oci.mounts.find((m) => m.destination === '/run/airlock');
    assert.deepEqual(agent?.options, ['bind', 'ro', 'nosuid', 'nodev']);
    assert.equal(agent?.source, '/var/lib/airlock/agent/k');
  });

  it('binds no agent directory when the root already holds the agent', () => {
    const oci = buildOciSpec(spec({ agentDir: '/var/lib/airlock/agent/k' }), command, seccomp, host({ init: true, agentInRoot: true }));
    assert.deepEqual(oci.process.args, ['/run/airlock/airlock-agent', '--init', '--', ...command.argv]);
    assert.equal(oci.mounts.find((m) => m.destination === '/run/airlock'), undefined);
  });

  it('passes exactly the spec environment', () => {
    const oci = buildOciSpec(spec({ env: { A: '1', B: 'x=y' } }), command, seccomp, host());
    assert.deepEqual(oci.process.env, ['A=1', 'B=x=y']);
    assert.deepEqual(buildOciSpec(spec({ env: {} }), command, seccomp, host()).process.env, []);
  });

  it('refuses variable names that could smuggle another variable', () => {
    const envs: Record<string, string>[] = [{ 'A=B': '1' }, { '': '1' }, { A: 'x\0y' }];
    for (const env of envs) {
      assert.throws(() => buildOciSpec(spec({ env }), command, seccomp, host()), (e: unknown) => e instanceof ControlError && e.control === 'environment');
    }
  });

  it('sets RLIMIT_NOFILE, RLIMIT_CORE 0 and the guest task limit', () => {
    const oci = buildOciSpec(spec(), command, seccomp, host());
    assert.deepEqual(oci.process.rlimits, [
      { type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 },
      { type: 'RLIMIT_CORE', hard: 0, soft: 0 },
      { type: 'RLIMIT_NPROC', hard: 256, soft: 256 },
    ]);
  });

  it('mounts the read-only view of the image as root', () => {
    const oci = buildOciSpec(spec(), command, seccomp, host());
    assert.deepEqual(oci.root, { path: '/run/airlock/gvisor/sb-1/root', readonly: true });
  });

  it('mounts only proc, sysfs read-only, device masks, shm and the scratch tmpfs from the host', () => {
    const oci = buildOciSpec(spec(), command, seccomp, host());
    const byDest = new Map(oci.mounts.map((m) => [m.destination, m]));
    assert.deepEqual([...byDest.keys()], ['/proc', '/dev', '/dev/pts', '/dev/net', '/dev/fuse', '/dev/shm', '/sys', '/tmp']);
    assert.ok(byDest.get('/sys')?.options.includes('ro'));
    assert.deepEqual(byDest.get('/tmp'), { destination: '/tmp', type: 'bind', source: '/run/airlock/gvisor/sb-1/scratch', options: ['bind', 'rw', 'nosuid', 'nodev'] });
    for (const dest of ['/dev/pts', '/dev/net', '/dev/fuse']) assert.ok(byDest.get(dest)?.options.includes('ro'), dest);
    // The only host sources are the bundle's own placeholders and scratch.
    const hostSources = oci.mounts.filter((m) => m.type === 'bind').map((m) => m.source);
    assert.ok(hostSources.every((s) => s.startsWith('/run/airlock/gvisor/sb-1/')), hostSources.join());
  });

  it('binds granted mounts read-only unless writable, parents first', () => {
    const mounts = [
      { hostPath: '/srv/data/out', sandboxPath: '/data/out', writable: true },
      { hostPath: '/srv/data', sandboxPath: '/data', writable: false },
    ];
    const sources = ['/run/airlock/gvisor/sb-1/grants/0', '/run/airlock/gvisor/sb-1/grants/1'];
    const oci = buildOciSpec(spec({ mounts }), command, seccomp, host({ mountSources: sources }));
    const granted = oci.mounts.slice(-2);
    assert.deepEqual(granted, [
      { destination: '/data', type: 'bind', source: sources[1], options: ['bind', 'ro', 'nosuid', 'nodev'] },
      { destination: '/data/out', type: 'bind', source: sources[0], options: ['bind', 'rw', 'nosuid', 'nodev'] },
    ]);
  });

  it('refuses grants over /, /tmp, /proc, /sys, /dev, duplicates and unclean paths', () => {
    for (const sandboxPath of ['/', '/tmp', '/proc', '/proc/sys', '/sys/fs/cgroup', '/dev', '/dev/shm', 'rel', '/a/../etc', '/a/']) {
      const mounts = [{ hostPath: '/srv/x', sandboxPath, writable: false }];
      assert.throws(() => buildOciSpec(spec({ mounts }), command, seccomp, host({ mountSources: ['/s'] })), ControlError, sandboxPath);
    }
    const twice = [
      { hostPath: '/srv/x', sandboxPath: '/x', writable: false },
      { hostPath: '/srv/y', sandboxPath: '/x', writable: false },
    ];
    assert.throws(() => buildOciSpec(spec({ mounts: twice }), command, seccomp, host({ mountSources: ['/a', '/b'] })), /granted twice/);
  });

  it('applies the project seccomp filter and the namespaces of a fresh sandbox kernel', () => {
    const oci = buildOciSpec(spec(), command, seccomp, host());
    assert.equal(oci.linux.seccomp, seccomp);
    assert.deepEqual(oci.linux.seccomp.architectures, ['SCMP_ARCH_X86_64']);
    assert.ok(oci.linux.seccomp.syscalls.some((s) => s.names.includes('ptrace')));
    assert.deepEqual(oci.linux.namespaces.map((n) => n.type).sort(), ['ipc', 'mount', 'network', 'pid', 'uts']);
  });

  it('writes memory, cpu and host pids limits and the cgroup path', () => {
    const oci = buildOciSpec(spec(), command, seccomp, host());
    assert.equal(oci.linux.cgroupsPath, '/airlock/sb-1');
    assert.deepEqual(oci.linux.resources, {
      memory: { limit: 512 * 1024 * 1024, swap: 512 * 1024 * 1024 },
      cpu: { quota: 50_000, period: 100_000 },
      pids: { limit: 8320 },
    });
  });

  it('masks the sensitive /proc paths and makes /proc/sys read-only', () => {
    const oci = buildOciSpec(spec(), command, seccomp, host());
    for (const p of ['/proc/kcore', '/proc/keys', '/proc/timer_list']) assert.ok(oci.linux.maskedPaths.includes(p), p);
    assert.deepEqual(oci.linux.maskedPaths, [...MASKED_PATHS]);
    for (const p of ['/proc/sys', '/proc/sysrq-trigger']) assert.ok(oci.linux.readonlyPaths.includes(p), p);
  });

  it('refuses an empty argv, a relative workdir and a mismatched source list', () => {
    assert.throws(() => buildOciSpec(spec(), { argv: [], stdin: false }, seccomp, host()), /argv is empty/);
    assert.throws(() => buildOciSpec(spec({ workdir: 'tmp' }), command, seccomp, host()), /workdir/);
    const mounts = [{ hostPath: '/srv/x', sandboxPath: '/x', writable: false }];
    assert.throws(() => buildOciSpec(spec({ mounts }), command, seccomp, host()), /sources/);
  });
});

describe('checkSandboxPath', () => {
  it('accepts clean absolute paths only', () => {
    for (const ok of ['/', '/tmp', '/a/b']) checkSandboxPath('x', ok);
    for (const bad of ['', 'a', '/a/', '/a//b', '/a/./b', '/a/../b', '/a\0']) assert.throws(() => checkSandboxPath('x', bad), ControlError, bad);
  });
});

describe('buildOciSpec networks', () => {
  it('an attached sandbox asks for no network namespace (runsc is started inside the prepared one)', () => {
    const attached = buildOciSpec(spec({ network: { kind: 'attached', netnsPath: '/run/netns/airlock-n3' } }), command, seccomp, host());
    assert.ok(!attached.linux.namespaces.some((n) => n.type === 'network'));
    assert.ok(buildOciSpec(spec(), command, seccomp, host()).linux.namespaces.some((n) => n.type === 'network'));
  });

  it('binds the generated resolv.conf read-only, and only when there is one', () => {
    const oci = buildOciSpec(spec(), command, seccomp, host({ resolvConf: '/run/airlock/gvisor/sb-1/resolv.conf' }));
    const mount = oci.mounts.find((m) => m.destination === '/etc/resolv.conf');
    assert.deepEqual(mount, { destination: '/etc/resolv.conf', type: 'bind', source: '/run/airlock/gvisor/sb-1/resolv.conf', options: ['bind', 'ro', 'nosuid', 'nodev', 'noexec'] });
    assert.ok(!buildOciSpec(spec(), command, seccomp, host()).mounts.some((m) => m.destination === '/etc/resolv.conf'));
  });

  it('binds the composed trust bundle (broker CA) read-only over the image\'s, and only when there is one', () => {
    const oci = buildOciSpec(spec(), command, seccomp, host({ trustBundle: '/run/airlock/gvisor/sb-1/ca-certificates.crt' }));
    const mount = oci.mounts.find((m) => m.destination === '/etc/ssl/certs/ca-certificates.crt');
    assert.deepEqual(mount, { destination: '/etc/ssl/certs/ca-certificates.crt', type: 'bind', source: '/run/airlock/gvisor/sb-1/ca-certificates.crt', options: ['bind', 'ro', 'nosuid', 'nodev', 'noexec'] });
    assert.ok(!buildOciSpec(spec(), command, seccomp, host()).mounts.some((m) => m.destination === '/etc/ssl/certs/ca-certificates.crt'));
  });
});
