/**
 * T13 symlink races on granted paths, controller side: replacing a granted host path (or one of
 * its parents, or a granted symlink's target) with a symlink while sandboxes start never exposes
 * the symlink's target. Every start is classified; the secret must never show up, no start may
 * hang, the racer must really have swapped and refusals must have been seen (or the race proved
 * nothing), and the real grant must still work under the race. A fixed number of starts runs once
 * the racer signals it is swapping: no wall-clock budget decides how much is tested.
 */
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GrantedMount } from '../../src/isolation/driver.ts';
import { RefusedControlError } from '../../src/host/control-error.ts';
import type { ExecutionResult } from '../../src/sandbox/result.ts';
import { hostBaseline, leftoverMark, type HostBaseline } from './lib/host.ts';
import { runPool } from './lib/pool.ts';
import { startRacer, type RaceMode } from './lib/race.ts';
import { HUNG, RUNTIMES, runInSandbox, runOrRefusal, withWatchdog, type TestRuntime } from './lib/runtime.ts';
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

function classify(r: ExecutionResult | RefusedControlError | typeof HUNG): Outcome {
  if (r === HUNG) return 'hung';
  // Refused by the grant check itself (thrown, nothing ran): a runtime that failed half-way (e.g. on a path gone missing) is no refusal.
  if (r instanceof RefusedControlError) return r.message.includes('SECRET') ? 'secret' : r.control === 'filesystem_access' ? 'refused' : 'other';
  if (`${r.output}\n${r.error ?? ''}`.includes('SECRET')) return 'secret';
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

/** Sandbox starts per race, by runtime (gVisor starts cost ~0.5 s each, four at a time). */
const RACE_STARTS: Record<TestRuntime, number> = { namespace: 120, gvisor: 40 };

/** What one race produced: outcome counts, swaps made, a few examples of unexpected ones, and leftovers. */
interface RaceReport {
  counts: Record<Outcome, number>;
  total: number;
  /** Swaps the racer made while the starts ran. */
  swaps: number;
  others: string[];
  /** Leftovers the race added (summarized), or '' when none. */
  leftovers: string;
}

async function race(ready: Ready, runtime: TestRuntime, grant: string, mode: RaceMode, fx: RaceFixture): Promise<RaceReport> {
  const mount: GrantedMount = { hostPath: grant, sandboxPath: GRANT_AT, writable: false };
  const mark = leftoverMark(suite.config, baseline, [fx.base, fx.secret]);
  const racer = startRacer(mode);
  let results: (ExecutionResult | RefusedControlError | typeof HUNG)[];
  let swaps: number;
  try {
    // Readiness, not a sleep: the first start begins once the racer has swapped once.
    await racer.ready;
    results = await runPool(RACE_STARTS[runtime], { concurrency: 4 }, () =>
      // A start that never settles is a failure of its own; the watchdog lets the race go on.
      withWatchdog(runOrRefusal(ready, suite.config, ['/bin/cat', `${GRANT_AT}/f`], { mounts: [mount], limits: { timeoutSeconds: 30 } }), 30_000),
    );
  } finally {
    swaps = await racer.stop();
  }
  const counts: Record<Outcome, number> = { public: 0, secret: 0, refused: 0, hung: 0, other: 0 };
  const others: string[] = [];
  for (const r of results) {
    const o = classify(r);
    counts[o]++;
    if (o === 'other' && r !== HUNG && others.length < 3) others.push((r instanceof RefusedControlError ? r.message : `${r.termination_reason} exit ${r.exit_code}: ${r.output} ${r.error ?? ''}`).slice(0, 300));
  }
  let leftovers = '';
  await mark.assertNoneAdded('the race left sandboxes behind').catch((err: Error) => (leftovers = err.message));
  return { counts, total: results.length, swaps, others, leftovers };
}

/**
 * The three races, by name: what is granted, what the racer swaps, and whether the real grant can
 * still succeed (a granted path that is itself a symlink never can: grants never follow links).
 */
const RACES: readonly { name: string; realGrantWorks: boolean; setup: (fx: RaceFixture) => { grant: string; mode: RaceMode } }[] = [
  {
    name: 'granted directory swapped for a symlink during starts',
    realGrantWorks: true,
    setup: (fx) => {
      const grant = join(fx.base, 'a', 'granted');
      return { grant, mode: { kind: 'swap-dir', path: grant, target: fx.secret } };
    },
  },
  {
    name: "granted path's parent swapped for a symlink during starts",
    realGrantWorks: true,
    setup: (fx) => ({ grant: join(fx.base, 'b', 'granted'), mode: { kind: 'swap-dir', path: join(fx.base, 'b'), target: fx.secret } }),
  },
  {
    name: 'symlink grant retargeted during starts',
    realGrantWorks: false,
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
        const r = await runOrRefusal(ready, suite.config, ['/bin/cat', `${GRANT_AT}/f`], { mounts: [{ hostPath, sandboxPath: GRANT_AT, writable: false }] });
        if (!(r instanceof RefusedControlError)) assert.fail(`${hostPath} was granted (${r.termination_reason}): ${r.output}`);
        assert.match(r.message, /^filesystem_access: /);
      }
    });

    runtimeCase(suite, runtime, 'a stable symlink grant is refused, naming the link (grants never follow links)', async (_t, ready) => {
      const link = join(fx.base, 'c', 'link');
      const r = await runOrRefusal(ready, suite.config, ['/bin/cat', `${GRANT_AT}/f`], { mounts: [{ hostPath: link, sandboxPath: GRANT_AT, writable: false }] });
      if (!(r instanceof RefusedControlError)) assert.fail(`the symlink grant was followed (${r.termination_reason}): ${r.output}`);
      assert.ok(r.message.includes(`${link} is a symbolic link`), r.message);
      // Its target, granted by its own name, still works.
      const real = await runInSandbox(ready, suite.config, ['/bin/cat', `${GRANT_AT}/f`], {
        mounts: [{ hostPath: join(fx.base, 'c', 'real'), sandboxPath: GRANT_AT, writable: false }],
      });
      assert.equal(real.termination_reason, 'completed', real.error ?? '');
      assert.equal(real.output, 'PUBLIC');
    });

    for (const { name, realGrantWorks, setup } of RACES) {
      let report: Promise<RaceReport> | undefined;
      const once = (ready: Ready) => {
        const { grant, mode } = setup(fx);
        report ??= race(ready, runtime, grant, mode, fx);
        return report;
      };

      runtimeCase(suite, runtime, `${name}: the symlink's target is never exposed`, async (t, ready) => {
        const { counts, total, swaps } = await once(ready);
        t.diagnostic(`${JSON.stringify(counts)}, ${swaps} swaps`);
        assert.equal(counts.secret, 0, `the swapped-in target was exposed ${counts.secret} times: ${JSON.stringify(counts)}`);
        assert.equal(total, RACE_STARTS[runtime], `only ${total} of ${RACE_STARTS[runtime]} starts ran`);
        // The race must have happened: swaps made while starting, and starts refused because of them.
        assert.ok(swaps > 0, `the racer made no swap (so the race proved nothing): ${JSON.stringify(counts)}`);
        assert.ok(counts.refused > 0, `no start was refused under the race (so no swap was ever seen): ${JSON.stringify(counts)}, ${swaps} swaps`);
        if (realGrantWorks) assert.ok(counts.public > 0, `no start got the real grant under the race: ${JSON.stringify(counts)}`);
        else assert.equal(counts.refused, total, `a grant of a symlink was not refused: ${JSON.stringify(counts)}`);
      }, { timeout: 300_000 });

      runtimeCase(suite, runtime, `${name}: every start got the real grant or was refused by the grant check; none hung or was left behind`, async (_t, ready) => {
        const { counts, others, leftovers } = await once(ready);
        assert.equal(counts.hung, 0, `${counts.hung} sandbox starts never settled (executeOnce hung): ${JSON.stringify(counts)}`);
        assert.deepEqual(others, [], `starts that neither got the grant nor were refused: ${JSON.stringify(counts)}`);
        assert.equal(leftovers, '', leftovers);
      }, { timeout: 300_000 });
    }
  });
}
