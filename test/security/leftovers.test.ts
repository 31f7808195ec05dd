/**
 * T22 leftovers (controller side): after many sandboxes that ended every way there is (normal,
 * killed, timed out, OOM-killed), no cgroup, process, mount, network namespace, uid lease,
 * bundle, tmpfs or scratch directory of theirs remains.
 *
 * Runs 1,000 namespace sandboxes and 60 gVisor ones (each gVisor start costs ~0.3 s), four at once.
 */
import { before, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Limits } from '../../src/isolation/driver.ts';
import type { TerminationReason } from '../../src/sandbox/result.ts';
import { findLeftovers, hostBaseline, type HostBaseline } from './lib/host.ts';
import { runPool } from './lib/pool.ts';
import { RUNTIMES, runInSandbox, type TestRuntime } from './lib/runtime.ts';
import { runtimeCase, useSuite } from './lib/suite.ts';

const suite = useSuite();

/** How many sandboxes each runtime runs. */
const COUNT: Record<TestRuntime, number> = { namespace: 1000, gvisor: 60 };
const CONCURRENCY = 4;

/** One kind of ending: what runs, under which limits, and the reason it must be reported with. */
interface Ending {
  name: string;
  argv: (probe: string) => string[];
  limits: Partial<Limits>;
  expected: TerminationReason;
}

const ENDINGS: readonly Ending[] = [
  { name: 'normal', argv: (p) => [p, 'hello'], limits: {}, expected: 'completed' },
  { name: 'killed', argv: (p) => [p, 'selfkill'], limits: {}, expected: 'killed' },
  { name: 'timed out', argv: (p) => [p, 'sleep', '30'], limits: { timeoutSeconds: 0.5 }, expected: 'timeout' },
  { name: 'OOM-killed', argv: (p) => [p, 'balloon', '0'], limits: { memoryMb: 32, timeoutSeconds: 30 }, expected: 'memory_limit' },
];

let baseline: HostBaseline;
before(() => {
  baseline = hostBaseline();
});

for (const runtime of RUNTIMES) {
  describe(`${runtime}: T22 leftovers`, () => {
    runtimeCase(
      suite,
      runtime,
      `after ${COUNT[runtime]} sandboxes (normal, killed, timed out, OOM-killed) nothing of them remains`,
      async (t, ready) => {
        const kit = suite.kit();
        const outcomes = await runPool(COUNT[runtime], { concurrency: CONCURRENCY }, async (i) => {
          const ending = ENDINGS[i % ENDINGS.length] as Ending;
          try {
            const r = await runInSandbox(ready, suite.config, ending.argv(kit.probe), { mounts: [kit.mount], limits: ending.limits });
            return { ending, reason: r.termination_reason as string, error: r.error ?? '' };
          } catch (err) {
            return { ending, reason: 'harness', error: (err as Error).message };
          }
        });
        const tally = new Map<string, number>();
        const wrong: string[] = [];
        for (const o of outcomes) {
          const key = `${o.ending.name} -> ${o.reason}`;
          tally.set(key, (tally.get(key) ?? 0) + 1);
          if (o.reason !== o.ending.expected && wrong.length < 5) wrong.push(`${key}: ${o.error.slice(0, 200)}`);
        }
        t.diagnostic(JSON.stringify(Object.fromEntries(tally)));
        assert.equal(outcomes.length, COUNT[runtime]);
        assert.deepEqual(findLeftovers(suite.config, baseline, [kit.hostDir]), [], 'sandboxes left something behind');
        assert.deepEqual(wrong, [], 'some sandboxes ended with a different termination reason than their kind');
      },
      { timeout: 900_000 },
    );
  });
}
