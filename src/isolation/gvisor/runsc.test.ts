import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromWaitStatus, parseRunscFlags, runscGlobalArgs, stateFile, stateSaysStarted, workloadExit } from './runsc.ts';
import { hostPidsMax } from './driver.ts';

const FLAGS_TEXT = `  -root string
    \troot directory for storage of container state.
  -network value
    \tspecifies which network to use: sandbox (default), host, none.
  -oci-seccomp
    \tEnables loading OCI seccomp filters inside the sandbox.
  -overlay2 value
    \twrap mounts with overlayfs.
`;

describe('parseRunscFlags', () => {
  it('reads flag names from `runsc flags`', () => {
    assert.deepEqual([...parseRunscFlags(FLAGS_TEXT)].sort(), ['network', 'oci-seccomp', 'overlay2', 'root']);
  });
});

describe('runscGlobalArgs', () => {
  it('always disables the network and host sockets and enables the OCI seccomp filter', () => {
    const args = runscGlobalArgs(new Set(), { stateDir: '/run/airlock/gvisor/state' });
    for (const a of ['--root=/run/airlock/gvisor/state', '--network=none', '--oci-seccomp', '--host-uds=none']) assert.ok(args.includes(a), a);
    assert.ok(!args.includes('--debug'));
  });

  it('adds optional hardening flags only when this runsc knows them', () => {
    const args = runscGlobalArgs(new Set(['overlay2', 'directfs', 'net-raw']), { stateDir: '/s' });
    for (const a of ['--overlay2=none', '--directfs=false', '--net-raw=false']) assert.ok(args.includes(a), a);
    assert.ok(!args.some((a) => a.startsWith('--host-fifo')));
  });

  it('logs run and the sandbox kernel, which traces every way to create a task, at the default level', () => {
    const args = runscGlobalArgs(new Set(), { stateDir: '/s', logDir: '/b' });
    for (const a of ['--debug-log=/b/%COMMAND%.log', '--debug-command=run,boot', '--strace', '--strace-syscalls=clone,clone3,fork,vfork']) assert.ok(args.includes(a), a);
    // Debug level costs ~100 ms per boot and nothing read from the logs needs it.
    assert.ok(!args.includes('--debug'));
  });
});

describe('stateSaysStarted', () => {
  it('is true once runsc recorded the workload running (or already over), never while it is being created', () => {
    assert.equal(stateFile('/s', 'abc'), '/s/abc_sandbox:abc.state');
    for (const status of ['running', 'stopped', 'paused']) assert.equal(stateSaysStarted(`{"id":"abc","status":"${status}","goferPid":7}`), true, status);
    for (const text of ['{"id":"abc","status":"creating"}', '{"id":"abc","status":"created"}', '', '{"id":"abc","sta', '{"status":"created","spec":{"annotations":{"status":"running"}}}']) assert.equal(stateSaysStarted(text), false, text);
  });
});

describe('fromWaitStatus', () => {
  it('decodes exit codes and signals', () => {
    assert.deepEqual(fromWaitStatus(0), { code: 0, signal: null });
    assert.deepEqual(fromWaitStatus(3 << 8), { code: 3, signal: null });
    assert.deepEqual(fromWaitStatus(137 << 8), { code: 137, signal: null });
    assert.deepEqual(fromWaitStatus(9), { code: null, signal: 'SIGKILL' });
    assert.deepEqual(fromWaitStatus(15 | 0x80), { code: null, signal: 'SIGTERM' });
  });
});

describe('workloadExit', () => {
  const log = (status: number) => `I1122 main.go:266] Exiting with status: ${status}\n`;

  it('prefers the raw wait status from the run log over the folded exit code', () => {
    assert.deepEqual(workloadExit(3, null, log(3 << 8), false), { code: 3, signal: null });
    assert.deepEqual(workloadExit(137, null, log(9), false), { code: null, signal: 'SIGKILL' });
    // A workload that itself exits 137 is not mistaken for a kill.
    assert.deepEqual(workloadExit(137, null, log(137 << 8), false), { code: 137, signal: null });
  });

  it('falls back to 128+N as a signal when there is no log', () => {
    assert.deepEqual(workloadExit(137, null, '', false), { code: null, signal: 'SIGKILL' });
    assert.deepEqual(workloadExit(143, null, '', false), { code: null, signal: 'SIGTERM' });
    assert.deepEqual(workloadExit(1, null, '', false), { code: 1, signal: null });
  });

  it('reports a stopped sandbox as SIGKILL and an unloadable command as 127', () => {
    assert.deepEqual(workloadExit(null, 'SIGKILL', '', true), { code: null, signal: 'SIGKILL' });
    assert.deepEqual(workloadExit(128, null, '', true), { code: null, signal: 'SIGKILL' });
    const fatal = 'W1122 util.go:64] FATAL ERROR: running container: starting sandbox: creating process: failed to load /nope: no such file or directory\n';
    assert.deepEqual(workloadExit(128, null, fatal, false), { code: 127, signal: null });
    assert.deepEqual(workloadExit(128, null, 'W1122 util.go:64] FATAL ERROR: cgroup: permission denied\n', false), { code: 128, signal: null });
  });
});


describe('hostPidsMax', () => {
  it('leaves room for the runtime above the guest limit, within a host-wide cap', () => {
    assert.ok(hostPidsMax(1) > 100);
    assert.ok(hostPidsMax(256) > 256 * 8);
    assert.equal(hostPidsMax(1_000_000), 16_384);
  });
});
