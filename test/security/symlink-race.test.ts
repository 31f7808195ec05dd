/**
 * T13 symlink races on granted paths, controller side: replacing a granted host path (or one of
 * its parents, or a granted symlink's target) with a symlink while sandboxes start never exposes
 * the symlink's target. Every start is classified; the secret must never show up, no start may
 * hang, and the real grant must still work under the race.
 */
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GrantedMount } from '../../src/isolation/driver.ts';
import type { ExecutionResult } from '../../src/sandbox/result.ts';
import { hostBaseline, leftoverMark, type HostBaseline } from './lib/host.ts';
import { runPool } from './lib/pool.ts';
import { startRacer, type RaceMode } from './lib/race.ts';
import { HUNG, RUNTIMES, runInSandbox, withWatchdog, type TestRuntime } from './lib/runtime.ts';
import { runtimeCase, useSuite, type Ready } from './lib/suite.ts';

const suite = useSuite();

let baseline: HostBaseline;
before(() => {
  baseline = hostBaseline();
});

/** Where grants appear in the sandbox (a mount point every image has). */
const GRANT_AT = '/work';

/** How one sandbox start under the racer ended. */
type Outcome = 'public' | 'secret' | 'refused' | 'hung' | 'other';

function classify(r: ExecutionResult | typeof HUNG): Outcome {
  if (r === HUNG) return 'hung';
  if (`${r.output}\n${r.error ?? ''}`.includes('SECRET')) return 'secret';
  if (r.termination_reason === 'start_failed') return 'refused';
  if (r.termination_reason === 'completed' && r.output === 'PUBLIC') return 'public';
  return 'other';
}

/** Fixture for T13: public trees under a temp dir, the secret in a place no grant may reach. */
interface RaceFixture {
  base: string;
  /**
   * The secret lives under /dev/shm: world-readable (so a sandbox that got it mounted could read
   * it) but under /dev, which no grant may resolve to. A symlink swapped in before the check is
   * therefore refused by the check itself, and the secret's content can only ever reach a sandbox
   * through a gap between check and mount: exactly what T13 looks for.
   */
  secret: string;
  cleanup(): Promise<void>;
}

async function raceFixture(): Promise<RaceFixture> {
  const base = await mkdtemp(join(tmpdir(), 'airlock-t13-'));
  const secret = await mkdtemp('/dev/shm/airlock-t13-secret-');
  for (const dir of [base, secret]) await chmod(dir, 0o755);
  const file = async (path: string, content: string) => {
    await mkdir(join(path, '..'), { recursive: true, mode: 0o755 });
    await writeFile(path, content, { mode: 0o644 });
  };
  await file(join(secret, 'f'), 'SECRET');
  await file(join(secret, 'granted', 'f'), 'SECRET');
  await file(join(base, 'a', 'granted', 'f'), 'PUBLIC');
  await file(join(base, 'b', 'granted', 'f'), 'PUBLIC');
  await file(join(base, 'c', 'real', 'f'), 'PUBLIC');
  await symlink(join(base, 'c', 'real'), join(base, 'c', 'link'));
  return {
    base,
    secret,
    cleanup: async () => {
      await rm(base, { recursive: true, force: true });
      await rm(secret, { recursive: true, force: true });
    },
  };
}

/** Iterations per race and the time bound per race, by runtime (gVisor starts cost ~0.3 s each). */
const RACE_BUDGET: Record<TestRuntime, { iterations: number; ms: number }> = {
  namespace: { iterations: 200, ms: 30_000 },
  gvisor: { iterations: 200, ms: 10_000 },
};

/** What one race produced: outcome counts, a few examples of unexpected ones, and leftovers. */
interface RaceReport {
  counts: Record<Outcome, number>;
  total: number;
  others: string[];
  /** Leftovers the race added (summarized), or '' when none. */
  leftovers: string;
}

async function race(ready: Ready, runtime: TestRuntime, grant: string, mode: RaceMode, fx: RaceFixture): Promise<RaceReport> {
  const mount: GrantedMount = { hostPath: grant, sandboxPath: GRANT_AT, writable: false };
  const mark = leftoverMark(suite.config, baseline, [fx.base, fx.secret]);
  const racer = startRacer(mode);
  let results: (ExecutionResult | typeof HUNG)[];
  try {
    const budget = RACE_BUDGET[runtime];
    results = await runPool(budget.iterations, { concurrency: 4, deadlineMs: budget.ms }, () =>
      // A start that never settles is a failure of its own; the watchdog lets the race go on.
      withWatchdog(runInSandbox(ready, suite.config, ['/bin/cat', `${GRANT_AT}/f`], { mounts: [mount], limits: { timeoutSeconds: 30 } }), 30_000),
    );
  } finally {
    await racer.stop();
  }
  const counts: Record<Outcome, number> = { public: 0, secret: 0, refused: 0, hung: 0, other: 0 };
  const others: string[] = [];
  for (const r of results) {
    const o = classify(r);
    counts[o]++;
    if (o === 'other' && r !== HUNG && others.length < 3) others.push(`${r.termination_reason} exit ${r.exit_code}: ${r.output} ${r.error ?? ''}`.slice(0, 300));
  }
  let leftovers = '';
  await mark.assertNoneAdded('the race left sandboxes behind').catch((err: Error) => (leftovers = err.message));
  return { counts, total: results.length, others, leftovers };
}

/** The three races, by name: what is granted and what the racer swaps. */
const RACES: readonly { name: string; setup: (fx: RaceFixture) => { grant: string; mode: RaceMode } }[] = [
  {
    name: 'granted directory swapped for a symlink during starts',
    setup: (fx) => {
      const grant = join(fx.base, 'a', 'granted');
      return { grant, mode: { kind: 'swap-dir', path: grant, target: fx.secret } };
    },
  },
  {
    name: "granted path's parent swapped for a symlink during starts",
    setup: (fx) => ({ grant: join(fx.base, 'b', 'granted'), mode: { kind: 'swap-dir', path: join(fx.base, 'b'), target: fx.secret } }),
  },
  {
    name: 'symlink grant retargeted during starts',
    setup: (fx) => {
      const link = join(fx.base, 'c', 'link');
      return { grant: link, mode: { kind: 'retarget', path: link, a: join(fx.base, 'c', 'real'), b: fx.secret } };
    },
  },
];

for (const runtime of RUNTIMES) {
  describe(`${runtime}: T13 symlink races on granted paths (controller side)`, () => {
    let fx: RaceFixture;
    before(async () => {
      fx = await raceFixture();
    });
    after(() => fx.cleanup());

    runtimeCase(suite, runtime, 'premise: the secret itself, or a symlink to it, is never grantable', async (_t, ready) => {
      const link = join(fx.base, 'to-secret');
      await symlink(fx.secret, link);
      for (const hostPath of [fx.secret, link]) {
        const r = await runInSandbox(ready, suite.config, ['/bin/cat', `${GRANT_AT}/f`], { mounts: [{ hostPath, sandboxPath: GRANT_AT, writable: false }] });
        assert.equal(r.termination_reason, 'start_failed', `${hostPath} was granted: ${r.output}`);
        assert.match(r.error ?? '', /filesystem_access/);
      }
    });

    runtimeCase(suite, runtime, 'a stable symlink grant resolves to its real target', async (_t, ready) => {
      const r = await runInSandbox(ready, suite.config, ['/bin/cat', `${GRANT_AT}/f`], {
        mounts: [{ hostPath: join(fx.base, 'c', 'link'), sandboxPath: GRANT_AT, writable: false }],
      });
      assert.equal(r.termination_reason, 'completed', r.error ?? '');
      assert.equal(r.output, 'PUBLIC');
    });

    for (const { name, setup } of RACES) {
      let report: Promise<RaceReport> | undefined;
      const once = (ready: Ready) => {
        const { grant, mode } = setup(fx);
        report ??= race(ready, runtime, grant, mode, fx);
        return report;
      };

      runtimeCase(suite, runtime, `${name}: the symlink's target is never exposed`, async (t, ready) => {
        const { counts, total } = await once(ready);
        t.diagnostic(JSON.stringify(counts));
        assert.equal(counts.secret, 0, `the swapped-in target was exposed ${counts.secret} times: ${JSON.stringify(counts)}`);
        assert.ok(total >= 20, `only ${total} starts ran within the time bound`);
        assert.ok(counts.public > 0, `no start got the real grant under the race (so the race proved nothing): ${JSON.stringify(counts)}`);
      }, { timeout: 180_000 });

      runtimeCase(suite, runtime, `${name}: every start got the real grant or was refused as start_failed; none hung or was left behind`, async (_t, ready) => {
        const { counts, others, leftovers } = await once(ready);
        assert.equal(counts.hung, 0, `${counts.hung} sandbox starts never settled (executeOnce hung): ${JSON.stringify(counts)}`);
        assert.deepEqual(others, [], `starts that neither got the grant nor were refused: ${JSON.stringify(counts)}`);
        assert.equal(leftovers, '', leftovers);
      }, { timeout: 180_000 });
    }
  });
}
