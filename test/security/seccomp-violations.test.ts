/**
 * Seccomp denials become violations of the run that made them, on real sandboxes: the kernel
 * audits each denial of the sandbox's (logging copy of its) filter, the controller's one helper
 * reads them, and executeOnce returns them in `security_violations` with exact counts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { executeOnce, type ExecutionContext } from '../../src/sandbox/execute.ts';
import { DenialWatch, ensureSeccompAuditHelper } from '../../src/sandbox/denials/watch.ts';
import type { ResponsePolicy } from '../../src/sandbox/denials/response.ts';
import { NetworkManager } from '../../src/network/manager.ts';
import { SandboxService } from '../../src/sandbox/service.ts';
import { policyDirOf, readBundleHash } from '../../src/policy/bundle-files.ts';
import { AirlockMetrics } from '../../src/observability/metrics.ts';
import type { ExecutionResult, SecurityViolation } from '../../src/sandbox/result.ts';
import { availability, isolatedConfig, probeLimits, removeIsolatedState, SANDBOX_ENV, type Availability, type SuiteRuntime } from './lib/runtime.ts';

const BURST = 20_000;
const RECORD_ONLY: ResponsePolicy = { LOW: 'record', MEDIUM: 'record', HIGH: 'record', CRITICAL: 'record' };

const ESCAPE = `
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
print("unshare", libc.unshare(0x00020000), ctypes.get_errno())
print("mount", libc.mount(b"none", b"/mnt", b"tmpfs", 0, None), ctypes.get_errno())
try:
    open("/proc/sys/kernel/core_pattern", "w")
except OSError as e:
    print("core_pattern", e.errno)
`;

// Writes the mounts refuse and a runtime-socket probe: no seccomp rule is involved in any.
const PROBES = `
import os, socket
def attempt(path):
    try:
        open(path, "w").close()
        print(path, 0)
    except OSError as e:
        print(path, e.errno)
attempt("/proc/sys/kernel/core_pattern")
attempt("/sys/kernel/mm/ksm/run")
attempt("/tmp/ordinary.txt")
attempt("/dev/null")
s = socket.socket(socket.AF_UNIX)
try:
    s.connect("/var/run/docker.sock")
except OSError as e:
    print("docker.sock", e.errno)
`;

const BURST_SCRIPT = `
import ctypes
unshare = ctypes.CDLL(None, use_errno=True).unshare
print(sum(1 for _ in range(${BURST}) if unshare(0x00020000) != 0))
`;

const config = isolatedConfig();
let watch: DenialWatch | undefined;
let watchError: string | undefined;
const networks = new NetworkManager({ config });

before(async () => {
  if (process.getuid?.() !== 0) {
    watchError = 'needs root: reading the kernel audit multicast group takes CAP_AUDIT_READ';
    return;
  }
  try {
    watch = await DenialWatch.start((await ensureSeccompAuditHelper(config.stateDir)).path);
  } catch (err) {
    watchError = (err as Error).message;
  }
});
after(async () => {
  watch?.close();
  await networks.close();
  removeIsolatedState(config);
});

function run(avail: Extract<Availability, { ok: true }>, script: string, policy?: ResponsePolicy, revoke?: (sandboxId: string, reason: string) => void): Promise<ExecutionResult> {
  const denials: NonNullable<ExecutionContext['denials']> = { watch: watch!, ...(policy === undefined ? {} : { policy }), ...(revoke === undefined ? {} : { revoke }) };
  return executeOnce(
    { image: avail.image, limits: probeLimits(config), env: { ...SANDBOX_ENV }, mounts: [], workdir: '/tmp', argv: ['python3', '-c', script] },
    { driver: avail.driver, network: networks, policyHash: 'sha256:seccomp-violations', denials },
  );
}

function byPattern(result: ExecutionResult): Map<unknown, SecurityViolation> {
  return new Map(result.security_violations.filter((v) => v.detection_layer === 'SECCOMP').map((v) => [v.indicators['pattern'], v]));
}

// microvm too: its guest's init reads the guest kernel's audit and sends each denial over the channel.
for (const runtime of ['namespace', 'gvisor', 'microvm'] as SuiteRuntime[]) {
  describe(`${runtime}: seccomp denials as violations`, () => {
    let avail: Availability = { ok: false, reason: 'not probed' };
    before(async () => {
      avail = await availability(runtime, config);
    });
    const ready = (t: { skip(msg: string): void }): Extract<Availability, { ok: true }> | undefined => {
      if (watchError !== undefined) return void t.skip(watchError);
      if (!avail.ok) return void t.skip(avail.reason);
      return avail;
    };

    it('the unshare/mount/core_pattern snippet returns namespace and mount violations', async (t) => {
      const a = ready(t);
      if (a === undefined) return;
      const result = await run(a, ESCAPE, RECORD_ONLY);
      assert.match(result.output, /unshare -1 1/, 'unshare refused with EPERM');
      assert.match(result.output, /mount -1 1/, 'mount refused with EPERM');
      assert.match(result.output, /core_pattern 13/, 'the core_pattern write refused (EACCES)');
      const found = byPattern(result);
      // gVisor: the Sentry enforces the profile itself; its debug log reports each denial.
      assert.equal(found.get('namespace_escape')?.indicators['syscall'], 'unshare');
      assert.equal(found.get('namespace_escape')?.severity, 'CRITICAL');
      assert.equal(found.get('mount_escape')?.indicators['syscall'], 'mount');
      assert.equal(found.get('mount_escape')?.indicators['count'], 1);
      assert.equal(result.termination_reason, 'completed', 'record-only: the run was not stopped');
      if (runtime === 'gvisor') return void t.todo('gVisor: runsc has no seccomp user notification (EINVAL), and its /proc/sys is its own: the core_pattern write is not reported there');
      if (runtime === 'microvm') return void t.todo('microvm: the write watcher does not run in the guest, and its /proc/sys is the guest kernel\'s: the core_pattern write is not reported there');
      const core = result.security_violations.find((v) => v.indicators['pattern'] === 'kernel_tunable_write');
      assert.equal(core?.indicators['path'], '/proc/sys/kernel/core_pattern', 'the core_pattern write is a violation with its path');
      assert.equal(core?.severity, 'CRITICAL');
    });

    it('writes the mounts refuse and runtime-socket probes are violations; an ordinary write is none', async (t) => {
      if (runtime === 'microvm') return void t.skip('microvm: the write watcher does not run in the guest (its /proc/sys and /sys are the guest kernel\'s)');
      if (runtime === 'gvisor') return void t.skip('gVisor: runsc has no seccomp user notification (SECCOMP_FILTER_FLAG_NEW_LISTENER is EINVAL); its /proc/sys and /sys are its own emulation');
      const a = ready(t);
      if (a === undefined) return;
      const result = await run(a, PROBES, RECORD_ONLY);
      assert.match(result.output, /core_pattern 13/, 'the core_pattern write refused (EACCES)');
      assert.match(result.output, /\/tmp\/ordinary.txt 0/, 'the ordinary write succeeded');
      assert.match(result.output, /docker.sock 2/, 'no runtime socket in the sandbox (ENOENT)');
      const files = result.security_violations.filter((v) => v.detection_layer === 'FILESYSTEM');
      const byPath = new Map(files.map((v) => [v.indicators['path'], v]));
      const core = byPath.get('/proc/sys/kernel/core_pattern');
      assert.equal(core?.indicators['pattern'], 'kernel_tunable_write');
      assert.equal(core?.severity, 'CRITICAL');
      assert.equal(core?.indicators['count'], 1);
      assert.equal(byPath.get('/sys/kernel/mm/ksm/run')?.severity, 'HIGH', 'a /sys write is HIGH');
      const docker = byPath.get('/var/run/docker.sock');
      assert.equal(docker?.indicators['pattern'], 'runtime_socket_probe');
      assert.equal(docker?.indicators['syscall'], 'connect');
      assert.equal(byPath.has('/tmp/ordinary.txt'), false, 'an ordinary write is no violation');
      assert.equal(byPath.has('/dev/null'), false, 'the sandbox\'s own devices are no violation');
      assert.deepEqual([...byPath.keys()].sort(), ['/proc/sys/kernel/core_pattern', '/sys/kernel/mm/ksm/run', '/var/run/docker.sock'], 'nothing else was reported');
      const metrics = new AirlockMetrics();
      metrics.executionFinished(result);
      const escapes = (await metrics.registry.getSingleMetric('hardened_sandbox_escape_attempts_total')?.get())?.values ?? [];
      assert.equal(escapes.find((e) => e.labels['pattern'] === 'runtime_socket_probe')?.value, 1, 'counted under its pattern');
    });

    it('a process that hides its memory from the watcher (non-dumpable) is reported as write_unseen', async (t) => {
      if (runtime !== 'namespace') return void t.skip(`${runtime}: no write watcher (gVisor: no seccomp user notification in runsc; microvm: not run in the guest)`);
      const a = ready(t);
      if (a === undefined) return;
      const hidden = 'import ctypes\nctypes.CDLL(None).prctl(4, 0, 0, 0, 0)\ntry:\n    open("/proc/sys/kernel/core_pattern", "w")\nexcept OSError as e:\n    print(e.errno)\n';
      const result = await run(a, hidden, RECORD_ONLY);
      assert.match(result.output, /13/, 'still refused by the kernel');
      const unseen = result.security_violations.find((v) => v.indicators['pattern'] === 'write_unseen');
      assert.equal(unseen?.severity, 'MEDIUM');
      assert.equal(unseen?.indicators['syscall'], 'openat');
    });

    it('a command that kills its write watcher ends its own run: nothing runs unwatched', async (t) => {
      if (runtime !== 'namespace') return void t.skip(`${runtime}: no write watcher (gVisor: no seccomp user notification in runsc; microvm: not run in the guest)`);
      const a = ready(t);
      if (a === undefined) return;
      const result = await run(a, 'import os, time\nos.kill(os.getppid(), 9)\ntime.sleep(0.5)\nopen("/tmp/after", "w")\nprint("unwatched write")\n', RECORD_ONLY);
      assert.doesNotMatch(result.output, /unwatched write/, 'the command did not outlive its watcher');
      assert.notEqual(result.exit_code, 0);
    });

    it('the default response kills a sandbox at a CRITICAL denial; kill_and_revoke calls the revocation', async (t) => {
      const a = ready(t);
      if (a === undefined) return;
      const killed = await run(a, `${ESCAPE}\nimport time\ntime.sleep(20)\n`);
      assert.equal(killed.termination_reason, 'killed');
      assert.ok(killed.execution_time_seconds < 15, `killed at once, not after the sleep (${killed.execution_time_seconds} s)`);
      assert.ok(byPattern(killed).has('namespace_escape'));
      const revoked: string[] = [];
      const result = await run(a, ESCAPE, { ...RECORD_ONLY, CRITICAL: 'kill_and_revoke' }, (_id, reason) => revoked.push(reason));
      assert.equal(result.termination_reason, 'killed');
      assert.equal(revoked.length, 1, 'revoked once');
      // Both are CRITICAL: whichever report arrives first (the watcher's line or the kernel's audit record) decides.
      assert.match(revoked[0] ?? '', runtime === 'namespace' ? /seccomp denied unshare|write to \/proc\/sys\/kernel\/core_pattern/ : /seccomp denied unshare/);
    });

    it(`counts every denial of a ${BURST}-denial burst, in the result and the metrics`, async (t) => {
      const a = ready(t);
      if (a === undefined) return;
      const lostBefore = watch!.lost;
      const result = await run(a, BURST_SCRIPT, RECORD_ONLY);
      assert.equal(result.output.trim(), String(BURST), 'every call was refused');
      assert.equal(watch!.lost, lostBefore, 'no receive-buffer overrun');
      const v = byPattern(result).get('namespace_escape');
      assert.equal(v?.indicators['count'], BURST, 'one aggregated violation carries the exact count');
      const metrics = new AirlockMetrics();
      metrics.executionFinished(result);
      const escapes = (await metrics.registry.getSingleMetric('hardened_sandbox_escape_attempts_total')?.get())?.values ?? [];
      const counted = escapes.find((e) => e.labels['pattern'] === 'namespace_escape')?.value;
      assert.equal(counted, BURST, 'hardened_sandbox_escape_attempts_total{pattern="namespace_escape"} == denials made');
    });
  });
}

for (const runtime of ['namespace', 'gvisor', 'microvm'] as SuiteRuntime[]) describe(`${runtime}: a persistent sandbox reports its denials through the service (GET /sandboxes/{id})`, () => {
  const serviceConfig = isolatedConfig();
  const revoked: { agentId: string; reason: string }[] = [];
  let service: SandboxService | undefined;
  let skip: string | undefined;
  before(async () => {
    skip = watchError ?? (await availability(runtime, serviceConfig).then((a) => (a.ok ? undefined : a.reason)));
    if (skip !== undefined) return;
    service = new SandboxService({
      config: serviceConfig,
      policyBundleHash: await readBundleHash(policyDirOf(serviceConfig.policy)),
      denials: { policy: { ...RECORD_ONLY, CRITICAL: 'kill_and_revoke' }, revokeAgent: (agentId, reason) => revoked.push({ agentId, reason }) },
    });
    await service.start();
  });
  after(async () => {
    await service?.shutdown();
    removeIsolatedState(serviceConfig);
  });

  it('a CRITICAL denial is listed, kills the sandbox and revokes its agent', async (t) => {
    if (skip !== undefined || service === undefined) return void t.skip(skip ?? 'no service');
    const info = await service.create({ runtime, limits: {}, metadata: {}, env: {}, mounts: [], agentId: 'sv-agent' });
    // A HIGH write first (recorded only): it is listed while the sandbox runs.
    const sysfs = await service.exec(info.sandbox_id, { argv: ['python3', '-c', 'try:\n    open("/sys/kernel/mm/ksm/run", "w")\nexcept OSError as e:\n    print(e.errno)\n'], env: {}, stdin: false, timeoutMs: 30_000 });
    await sysfs.result;
    const session = await service.exec(info.sandbox_id, { argv: ['python3', '-c', ESCAPE], env: {}, stdin: false, timeoutMs: 30_000 });
    await session.result.catch(() => undefined);
    const deadline = Date.now() + 10_000;
    // Why wait for the listing too: the end reason is set at once; the denials are read in full (barrier) while it ends.
    const listedEscape = () => service!.get(info.sandbox_id).security_violations.some((v) => v.indicators['pattern'] === 'namespace_escape');
    while ((service.get(info.sandbox_id).end_reason === null || !listedEscape()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const after = service.get(info.sandbox_id);
    assert.equal(after.end_reason, 'revoked', 'the sandbox was ended by the response');
    const listed = new Map(after.security_violations.map((v) => [v.indicators['pattern'], v]));
    assert.equal(listed.get('namespace_escape')?.indicators['syscall'], 'unshare');
    assert.deepEqual(revoked.map((r) => r.agentId), ['sv-agent']);
    // gVisor has no seccomp user notification, the microvm guest no write watcher: the write is refused there without a report.
    if (runtime === 'namespace') assert.equal(listed.get('sysfs_write')?.indicators['path'], '/sys/kernel/mm/ksm/run', 'the /sys write is listed too');
  });
});
