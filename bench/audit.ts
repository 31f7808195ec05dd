/**
 * Audit log appends on the embedded SQLite store (durable: every commit synced, WAL): a sustained
 * open-loop run at a target rate (each append issued on its own schedule, as requests arrive) with
 * the latency of every append (due time → durable), then a closed-loop run with `concurrency` appends
 * in flight to find the most it takes. Also the cost of a receipt (a head signed on demand + a proof).
 *   node bench/run.ts --only audit
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { AuditLog } from '../src/audit/log.ts';
import type { AuditEvent } from '../src/audit/record.ts';
import { generateEd25519KeyPair } from '../src/signing/keys.ts';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import type { AuditSync } from '../src/store/sqlite/audit-store.ts';

/** Latency figures, ms. */
export interface LatencyStats {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

/** What `benchAudit` measured. */
export interface AuditBench {
  /** Where the database lived (its file system decides the cost of a sync). */
  dir: string;
  /** audit.sync: full (an fsync per commit) or normal. */
  sync: AuditSync;
  /** Where commits ran: a worker thread (the default) or inline on the event loop (before). */
  writer: 'worker' | 'inline';
  /** The one-minute load average when the run started (the machine is shared). */
  loadAverage: number;
  sustained: { targetPerSecond: number; seconds: number; achievedPerSecond: number; latency: LatencyStats; failures: number; eventLoopDelay: { p99: number; max: number } };
  flatOut: { concurrency: number; seconds: number; perSecond: number; latency: LatencyStats };
  receipt: LatencyStats;
  verifySeconds: { records: number; seconds: number };
}

function stats(samples: number[]): LatencyStats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? Number.NaN };
}

/** A record the size of a typical admission decision (~1 KiB of canonical JSON). */
function event(n: number): AuditEvent {
  return {
    kind: 'admission',
    agentId: `agent-${n % 17}`,
    sandboxId: `sb-${n % 101}`,
    actor: { name: `agent-${n % 17}`, role: 'agent', agent_id: `agent-${n % 17}` },
    data: {
      action: 'exec',
      outcome: 'allowed',
      action_digest: `sha256:${'ab'.repeat(32)}`,
      policy_ids: ['agents-own-sandboxes'],
      spec: { runtime: 'namespace', image: 'default', network: { mode: 'none', allowedHosts: [] }, mounts: [], limits: { memoryMb: 512, cpuCores: 0.5, pids: 256, timeoutSeconds: 300, scratchMb: 64, outputBytes: 10485760, openFiles: 1024 } },
      parameters: { argv: ['python3', '-c', 'print(1)'], env: {}, timeoutMs: 60000, n },
    },
  };
}

/** Runs the audit benchmarks in a fresh store under `baseDir` (default: the OS temp dir). */
export async function benchAudit(options: { targetPerSecond?: number | undefined; seconds?: number | undefined; baseDir?: string | undefined; sync?: AuditSync | undefined; writer?: 'worker' | 'inline' | undefined } = {}): Promise<AuditBench> {
  const target = options.targetPerSecond ?? 1000;
  const seconds = options.seconds ?? 10;
  const dir = await mkdtemp(join(options.baseDir ?? tmpdir(), 'airlock-bench-audit-'));
  const sync = options.sync ?? 'full';
  const writer = options.writer ?? 'worker';
  const store = await SqliteStore.open({ path: join(dir, 'store', 'airlock.db'), auditSync: sync, auditWriter: writer });
  const { privateKey } = generateEd25519KeyPair();
  const log = new AuditLog({ store: store.audit, signingKey: privateKey });
  try {
    // Warm-up: statements prepared, the WAL created.
    for (let i = 0; i < 200; i++) await log.append(event(i));

    // Open loop: append k is issued at start + k / target, whether or not earlier ones are done.
    const latencies: number[] = [];
    let failures = 0;
    const total = target * seconds;
    const pending: Promise<void>[] = [];
    const start = performance.now();
    let issued = 0;
    // How long the event loop was blocked: what every other request of the controller waits for.
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const loadAverage = loadavg()[0] as number;
    while (issued < total) {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * target) + 1);
      for (; issued < due; issued++) {
        // Why from the due time, not the issue time: an append that could not even be issued while the
        // event loop was blocked waited too (measuring from the issue time hides that stall).
        const t0 = start + (issued * 1000) / target;
        pending.push(log.append(event(issued)).then(() => void latencies.push(performance.now() - t0), () => void (failures += 1)));
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await Promise.all(pending);
    loop.disable();
    const eventLoopDelay = { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 };
    const elapsed = (performance.now() - start) / 1000;
    const sustained = { targetPerSecond: target, seconds: Number(elapsed.toFixed(2)), achievedPerSecond: Math.round(latencies.length / elapsed), latency: stats(latencies), failures, eventLoopDelay };

    // Closed loop: `concurrency` appenders, each issuing its next append when the last is durable.
    const concurrency = 32;
    const flatLatencies: number[] = [];
    const flatSeconds = 5;
    const flatStart = performance.now();
    let n = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() - flatStart < flatSeconds * 1000) {
          const t0 = performance.now();
          await log.append(event(n++));
          flatLatencies.push(performance.now() - t0);
        }
      }),
    );
    const flatElapsed = (performance.now() - flatStart) / 1000;
    const flatOut = { concurrency, seconds: Number(flatElapsed.toFixed(2)), perSecond: Math.round(flatLatencies.length / flatElapsed), latency: stats(flatLatencies) };

    // A receipt as a result gets it: one append, a head signed on demand, the proof.
    const receiptLatencies: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      const appended = await log.append(event(i));
      await log.receipt(appended.index);
      receiptLatencies.push(performance.now() - t0);
    }

    const records = await log.size();
    const v0 = performance.now();
    const check = await log.verifyStored();
    if (!check.ok) throw new Error(`the benchmark's own log does not verify: ${JSON.stringify(check)}`);
    return { dir, sync, writer, loadAverage, sustained, flatOut, receipt: stats(receiptLatencies), verifySeconds: { records, seconds: Number(((performance.now() - v0) / 1000).toFixed(2)) } };
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** One paragraph for the benchmark report. */
export function auditLines(a: AuditBench): string[] {
  const f = (x: number) => x.toFixed(2);
  const l = (s: LatencyStats) => `p50 ${f(s.p50)} ms, p99 ${f(s.p99)} ms, max ${f(s.max)} ms (n ${s.n})`;
  return [
    `Audit appends (SQLite WAL, audit.sync ${a.sync}${a.sync === 'full' ? ': an fsync per commit' : ': no fsync per commit'}, group commit, commits ${a.writer === 'worker' ? 'in a worker thread' : 'inline on the event loop'}; store in ${a.dir}; load average ${a.loadAverage.toFixed(2)}): open loop at ${a.sustained.targetPerSecond}/s for ${a.sustained.seconds} s: ${a.sustained.achievedPerSecond}/s durable, latency ${l(a.sustained.latency)}, failures ${a.sustained.failures}; event loop blocked p99 ${f(a.sustained.eventLoopDelay.p99)} ms, max ${f(a.sustained.eventLoopDelay.max)} ms`,
    `Audit appends, closed loop with ${a.flatOut.concurrency} in flight for ${a.flatOut.seconds} s: ${a.flatOut.perSecond}/s, latency ${l(a.flatOut.latency)}`,
    `Append + receipt (head signed on demand + inclusion proof): ${l(a.receipt)}; audit verify of ${a.verifySeconds.records} records: ${f(a.verifySeconds.seconds)} s`,
  ];
}
