/**
 * What the write watcher (agent --watch-writes: seccomp user notification, detection only) costs a
 * namespace sandbox: a Python loop creates and writes FILES small files in /tmp, timed inside the
 * sandbox, with the watcher and without it (seccomp denial reporting on in both), rounds
 * alternating. A third case makes FILES refused opens of /proc/sys/kernel/core_pattern, each a
 * finding line the controller reads and counts (the reporting path's cost).
 */
import { executeOnce } from '../src/sandbox/execute.ts';
import { DenialWatch, ensureSeccompAuditHelper } from '../src/sandbox/denials/watch.ts';
import { NetworkManager } from '../src/network/manager.ts';
import { availability, probeLimits, SANDBOX_ENV } from '../test/security/lib/runtime.ts';
import { isolatedConfig, releaseIsolatedConfig } from '../test/security/lib/isolated-config.ts';
import { summarize, type Summary } from './stats.ts';

const FILES = 5_000;
const RECORD_ONLY = { LOW: 'record', MEDIUM: 'record', HIGH: 'record', CRITICAL: 'record' } as const;
const WRITE_FILES = `
import time
t = time.perf_counter()
for i in range(${FILES}):
    with open(f"/tmp/f{i}", "w") as f:
        f.write("x")
print(time.perf_counter() - t)
`;
const REFUSED = `
import time
t = time.perf_counter()
for i in range(${FILES}):
    try:
        open("/proc/sys/kernel/core_pattern", "w")
    except OSError:
        pass
print(time.perf_counter() - t)
`;

export interface WriteWatchBench {
  files: number;
  rounds: number;
  /** In-sandbox µs per file (open, write, close), without and with the watcher. */
  plain: Summary;
  watched: Summary;
  /** p50 watched / plain. */
  ratio: number;
  /** µs per refused core_pattern open with the watcher, and what the run counted of them. */
  refused: Summary;
  refusedCounted: number;
}

/** Runs `rounds` alternating rounds of each case (after one warm-up of each). */
export async function benchWriteWatch(rounds: number): Promise<WriteWatchBench> {
  // Why its own state, cgroup parent and uid range: the bench must not touch a live deployment's.
  const config = isolatedConfig();
  const networks = new NetworkManager({ config });
  const avail = await availability('namespace', config);
  if (!avail.ok) throw new Error(avail.reason);
  const watch = await DenialWatch.start((await ensureSeccompAuditHelper(config.stateDir)).path);
  const once = async (script: string, watchWrites: boolean) => {
    const result = await executeOnce(
      { image: avail.image, limits: { ...probeLimits(config), scratchMb: 64, timeoutSeconds: 120 }, env: { ...SANDBOX_ENV }, mounts: [], workdir: '/tmp', argv: ['python3', '-c', script] },
      { driver: avail.driver, network: networks, policyHash: 'sha256:bench', denials: { watch, policy: RECORD_ONLY, watchWrites } },
    );
    if (result.exit_code !== 0) throw new Error(`bench run failed: ${result.error ?? result.termination_reason}`);
    const counted = result.security_violations.filter((v) => v.indicators['pattern'] === 'kernel_tunable_write').reduce((n, v) => n + Number(v.indicators['count']), 0);
    return { usPerCall: (Number(result.output.trim()) / FILES) * 1e6, counted };
  };
  try {
    const plain: number[] = [];
    const watched: number[] = [];
    const refused: number[] = [];
    let refusedCounted = Number.POSITIVE_INFINITY;
    await once(WRITE_FILES, false);
    await once(WRITE_FILES, true);
    for (let i = 0; i < rounds; i++) {
      plain.push((await once(WRITE_FILES, false)).usPerCall);
      watched.push((await once(WRITE_FILES, true)).usPerCall);
      const r = await once(REFUSED, true);
      refused.push(r.usPerCall);
      refusedCounted = Math.min(refusedCounted, r.counted);
    }
    const p = summarize(plain);
    const w = summarize(watched);
    return { files: FILES, rounds, plain: p, watched: w, ratio: w.p50 / p.p50, refused: summarize(refused), refusedCounted };
  } finally {
    watch.close();
    await networks.close();
    releaseIsolatedConfig(config);
  }
}

/** The report lines. */
export function writeWatchLines(b: WriteWatchBench): string[] {
  const f = (x: number) => x.toFixed(1);
  return [
    `Write watcher (namespace, ${b.files} small files written in /tmp by Python, in-sandbox time, ${b.rounds} alternating rounds): µs per file p50 ${f(b.plain.p50)} without (${f(b.plain.min)}–${f(b.plain.max)}), ${f(b.watched.p50)} with the watcher (${f(b.watched.min)}–${f(b.watched.max)}): ${b.ratio.toFixed(2)}×`,
    `Write watcher, ${b.files} refused opens of /proc/sys/kernel/core_pattern (each a finding): µs per open p50 ${f(b.refused.p50)} (${f(b.refused.min)}–${f(b.refused.max)}); fewest counted in a round ${b.refusedCounted} of ${b.files}`,
  ];
}
