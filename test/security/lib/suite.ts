/**
 * Per-file scaffolding: one isolated configuration and one compiled probe kit per test file, each
 * runtime's availability computed once, and a test wrapper that skips (never passes) a case on a
 * runtime that can't run here.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { AirlockConfig } from '../../../src/config/config.ts';
import { compileProbes, type ProbeKit } from './probes.ts';
import { availability, isolatedConfig, removeIsolatedState, type Availability, type SuiteRuntime } from './runtime.ts';
import { killOwnLeftovers } from './host.ts';
import { knownGap } from './known-gaps.ts';
import { stretched } from './emulation.ts';

/** A runtime that is available, with everything a case needs. */
export type Ready = Extract<Availability, { ok: true }>;

/** What every test file shares. */
export interface Suite {
  config: AirlockConfig;
  /** The compiled probes (set once the file's `before` hook ran). */
  kit(): ProbeKit;
  /** The runtime's availability, computed on first use. */
  runtime(runtime: SuiteRuntime): Promise<Availability>;
  /**
   * Closes what the file opened (servers, network managers) at the end, before the suite kills its
   * leftovers and removes its state: a file's own `after` hook runs after the suite's, when its
   * slot leases, say, are still held and their directory can't be removed yet.
   */
  closeFirst(close: () => Promise<unknown> | unknown): void;
}

/** Registers the file-level hooks (compile probes; clean the isolated state) and returns the suite. */
export function useSuite(): Suite {
  const config = isolatedConfig();
  let kit: ProbeKit | undefined;
  const cache = new Map<SuiteRuntime, Promise<Availability>>();
  const closers: (() => Promise<unknown> | unknown)[] = [];
  before(async () => {
    kit = await compileProbes();
  });
  after(async () => {
    // A runtime's probe still under way (it prepares state under the run directory) ends first,
    // or it would make its directories again after they were removed.
    await Promise.allSettled(cache.values());
    for (const close of closers) {
      try {
        await close();
      } catch (err) {
        process.stderr.write(`security suite cleanup: ${(err as Error).message}\n`);
      }
    }
    await kit?.cleanup();
    // Whatever a failing case left running is killed by pid (all of it is this file's own: it runs
    // in the file's private uid range or names its private run directory), then its state removed.
    const killed = await killOwnLeftovers(config);
    if (killed.length > 0) process.stderr.write(`security suite cleanup: killed leftover pids ${killed.join(', ')}\n`);
    const problems = removeIsolatedState(config);
    if (problems.length > 0) process.stderr.write(`security suite cleanup: ${problems.join('; ')}\n`);
  });
  return {
    config,
    kit() {
      if (kit === undefined) throw new Error('probes are not compiled (the before hook failed)');
      return kit;
    },
    runtime(runtime) {
      let avail = cache.get(runtime);
      if (avail === undefined) {
        avail = availability(runtime, config);
        cache.set(runtime, avail);
      }
      return avail;
    },
    closeFirst(close) {
      closers.push(close);
    },
  };
}

/**
 * A case on one runtime: skipped with the runtime's reason when it can't run here, otherwise `fn`
 * runs with the ready runtime. `knownGap` (a whole-case entry of known-gaps.ts) reports a failing
 * case as TODO with the reason, and fails it when it passes: the gap is gone, so its entry must go.
 */
export function runtimeCase(
  suite: Suite,
  runtime: SuiteRuntime,
  name: string,
  fn: (t: TestContext, ready: Ready) => Promise<void> | void,
  options: { timeout?: number; knownGap?: string | undefined } = {},
): void {
  test(name, { timeout: stretched(options.timeout ?? 120_000) }, async (t) => {
    const avail = await suite.runtime(runtime);
    if (!avail.ok) {
      t.skip(avail.reason);
      return;
    }
    const gap = options.knownGap;
    if (gap === undefined) {
      await fn(t, avail);
      return;
    }
    try {
      await fn(t, avail);
    } catch (err) {
      t.diagnostic(`known gap, assertion failed as documented: ${(err as Error).message.split('\n')[0] ?? ''}`);
      // Marked only once the case has ended: a TODO mark hides every failure that comes after it.
      t.todo(gap);
      return;
    }
    throw unexpectedPass(name, runtime, gap);
  });
}

/**
 * One assertion of a case that may be a known gap (`id` = `case:assertion` in known-gaps.ts).
 * Without a gap on this runtime it is an ordinary strict assertion. With one, the assertion still
 * runs: when it fails, a TODO subtest carries its failure and the reason, and the rest of the case
 * goes on, strict; when it holds, the case fails, because the documented gap no longer exists.
 */
export async function gapAware(t: TestContext, runtime: SuiteRuntime, id: string, check: () => void | Promise<void>): Promise<void> {
  const gap = knownGap(id, runtime);
  if (gap === undefined) {
    await check();
    return;
  }
  let failure: unknown;
  try {
    await check();
  } catch (err) {
    failure = err;
  }
  if (failure === undefined) throw unexpectedPass(id, runtime, gap);
  await t.test(`${id} (known gap on ${runtime})`, { todo: gap }, () => {
    throw failure instanceof Error ? failure : new Error(String(failure));
  });
}

function unexpectedPass(id: string, runtime: SuiteRuntime, gap: string): assert.AssertionError {
  return new assert.AssertionError({
    message: `known gap "${id}" on ${runtime} did not reproduce: the assertion now holds, so remove its entry from test/security/lib/known-gaps.ts (it said: ${gap})`,
  });
}
