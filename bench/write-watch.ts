/**
 * What the write watcher (agent --watch-writes: seccomp user notification, detection only) costs a
 * namespace sandbox: a Python loop creates and writes FILES small files in /tmp, timed inside the
 * sandbox, with the watcher and without it (seccomp denial reporting on in both), rounds
 * alternating. A third case makes FILES refused opens of /proc/sys/kernel/core_pattern, each a
 * finding line the controller reads and counts (the reporting path's cost). And the whole one-shot
 * run of /bin/true with and without it (the fork, filter and self-test at start).
 */
import { executeOnce } from '../src/sandbox/execute.ts';
import { DenialWatch, ensureSeccompAuditHelper } from '../src/sandbox/denials/watch.ts';
import { NetworkManager } from '../src/network/manager.ts';
import { availability, probeLimits, SANDBOX_ENV } from '../test/security/lib/runtime.ts';
import { isolatedConfig } from '../test/security/lib/isolated-config.ts';
import { releaseBenchConfig } from './config.ts';
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
  /** Wall ms of a whole one-shot run of /bin/true (create, start, run, destroy), without and with the watcher. */
  trueRun: { plain: Summary; watched: Summary };
}

/** Runs `rounds` alternating rounds of each case (after one warm-up of each). */
export async function benchWriteWatch(rounds: number): Promise<WriteWatchBench> {
  // Why its own state, cgroup parent and uid range: the bench must not touch a live deployment's.
  const config = isolatedConfig();
  const networks = new NetworkManager({ config });
  const avail = await availability('namespace', config);
  if (!avail.ok) throw new Error(avail.reason);
  const watch = await DenialWatch.start((await ensureSeccompAuditHelper(config.stateDir)).path);
  const trueRun = async (watchWrites: boolean) => {
    const t0 = performance.now();
    const result = await executeOnce(
      { image: avail.image, limits: probeLimits(config), env: { ...SANDBOX_ENV }, mounts: [], workdir: '/tmp', argv: ['/bin/true'] },
      { driver: avail.driver, network: networks, policyHash: 'sha256:bench', denials: { watch, policy: RECORD_ONLY, watchWrites } },
    );
    if (result.exit_code !== 0) throw new Error(`bench run failed: ${result.error ?? result.termination_reason}`);
    return performance.now() - t0;
  };
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
    const truePlain: number[] = [];
    const trueWatched: number[] = [];
    await once(WRITE_FILES, false);
    await once(WRITE_FILES, true);
    for (let i = 0; i < rounds; i++) {
      plain.push((await once(WRITE_FILES, false)).usPerCall);
      watched.push((await once(WRITE_FILES, true)).usPerCall);
      const r = await once(REFUSED, true);
      refused.push(r.usPerCall);
      refusedCounted = Math.min(refusedCounted, r.counted);
      for (let k = 0; k < 5; k++) {
        truePlain.push(await trueRun(false));
        trueWatched.push(await trueRun(true));
      }
    }
    const p = summarize(plain);
    const w = summarize(watched);
    return { files: FILES, rounds, plain: p, watched: w, ratio: w.p50 / p.p50, refused: summarize(refused), refusedCounted, trueRun: { plain: summarize(truePlain), watched: summarize(trueWatched) } };
  } finally {
    watch.close();
    await networks.close();
    releaseBenchConfig(config);
  }
}

/** The report lines. */
export function writeWatchLines(b: WriteWatchBench): string[] {
  const f = (x: number) => x.toFixed(1);
  return [
    `Write watcher (namespace, ${b.files} small files written in /tmp by Python, in-sandbox time, ${b.rounds} alternating rounds): µs per file p50 ${f(b.plain.p50)} without (${f(b.plain.min)}–${f(b.plain.max)}), ${f(b.watched.p50)} with the watcher (${f(b.watched.min)}–${f(b.watched.max)}): ${b.ratio.toFixed(2)}×`,
    `Write watcher, one-shot /bin/true (whole run: create, start, run, destroy; n ${b.trueRun.plain.n} each, alternating): wall p50 ${f(b.trueRun.plain.p50)} ms without, ${f(b.trueRun.watched.p50)} ms with the watcher (p95 ${f(b.trueRun.plain.p95)} / ${f(b.trueRun.watched.p95)} ms)`,
    `Write watcher, ${b.files} refused opens of /proc/sys/kernel/core_pattern (each a finding): µs per open p50 ${f(b.refused.p50)} (${f(b.refused.min)}–${f(b.refused.max)}); fewest counted in a round ${b.refusedCounted} of ${b.files}`,
  ];
}
