/**
 * What seccomp denial reporting costs and whether it loses anything: a namespace sandbox makes a
 * burst of denied unshare(2) calls, with reporting (logging filter copy, audit multicast, helper,
 * attribution) and without. Reports the in-sandbox time per denied call, the helper's and the
 * controller's CPU time for the burst, and the counted vs made denials.
 * gVisor (third argument): the sandbox kernel reports its own denials in its debug log, read by the
 * driver; the helper is idle then and the controller's CPU time includes reading that log.
 * Usage: node bench/seccomp-denials.ts [denials=20000] [rounds=5] [namespace|gvisor]
 */
import { executeOnce } from '../src/sandbox/execute.ts';
import { DenialWatch, ensureSeccompAuditHelper } from '../src/sandbox/denials/watch.ts';
import { NetworkManager } from '../src/network/manager.ts';
import { availability, probeLimits, SANDBOX_ENV } from '../test/security/lib/runtime.ts';
import { isolatedConfig } from '../test/security/lib/isolated-config.ts';
import { releaseBenchConfig } from './config.ts';
import { processTicks, USER_HZ } from './idle-parts.ts';

const DENIALS = Number(process.argv[2] ?? 20_000);
const ROUNDS = Number(process.argv[3] ?? 5);
const RUNTIME = process.argv[4] === 'gvisor' ? 'gvisor' : 'namespace';
const RECORD_ONLY = { LOW: 'record', MEDIUM: 'record', HIGH: 'record', CRITICAL: 'record' } as const;
const SCRIPT = `
import ctypes, time
unshare = ctypes.CDLL(None, use_errno=True).unshare
t = time.perf_counter()
n = sum(1 for _ in range(${DENIALS}) if unshare(0x00020000) != 0)
print(n, time.perf_counter() - t)
`;

const config = isolatedConfig();
const networks = new NetworkManager({ config });
const avail = await availability(RUNTIME, config);
if (!avail.ok) throw new Error(avail.reason);
const watch = await DenialWatch.start((await ensureSeccompAuditHelper(config.stateDir)).path);
try {
  for (const reporting of [false, true]) {
    for (let round = 0; round < ROUNDS; round++) {
      const helper0 = processTicks(watch.pid!);
      const cpu0 = process.cpuUsage();
      const lost0 = watch.lost;
      const result = await executeOnce(
        { image: avail.image, limits: probeLimits(config), env: { ...SANDBOX_ENV }, mounts: [], workdir: '/tmp', argv: ['python3', '-c', SCRIPT] },
        { driver: avail.driver, network: networks, policyHash: 'sha256:bench', ...(reporting ? { denials: { watch, policy: RECORD_ONLY } } : {}) },
      );
      const cpu = process.cpuUsage(cpu0);
      const [made, seconds] = result.output.trim().split(' ').map(Number) as [number, number];
      const counted = result.security_violations.filter((v) => v.detection_layer === 'SECCOMP').reduce((n, v) => n + Number(v.indicators['count']), 0);
      console.log(JSON.stringify({
        runtime: RUNTIME, reporting, made, counted, lost: watch.lost - lost0,
        in_sandbox_us_per_denial: Math.round((seconds / made) * 1e7) / 10,
        run_s: result.execution_time_seconds,
        helper_cpu_ms: ((processTicks(watch.pid!) - helper0) * 1000) / USER_HZ,
        controller_cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
      }));
    }
  }
} finally {
  watch.close();
  await networks.close();
  releaseBenchConfig(config);
}
