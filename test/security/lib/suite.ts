/**
 * Per-file scaffolding: one isolated configuration and one compiled probe kit per test file, each
 * runtime's availability computed once, and a test wrapper that skips (never passes) a case on a
 * runtime that can't run here.
 */
import { after, before, test, type TestContext } from 'node:test';
import type { AirlockConfig } from '../../../src/config/config.ts';
import { compileProbes, type ProbeKit } from './probes.ts';
import { availability, isolatedConfig, removeIsolatedState, type Availability, type TestRuntime } from './runtime.ts';
import { killOwnLeftovers } from './host.ts';

/** A runtime that is available, with everything a case needs. */
export type Ready = Extract<Availability, { ok: true }>;

/** What every test file shares. */
export interface Suite {
  config: AirlockConfig;
  /** The compiled probes (set once the file's `before` hook ran). */
  kit(): ProbeKit;
  /** The runtime's availability, computed on first use. */
  runtime(runtime: TestRuntime): Promise<Availability>;
}

/** Registers the file-level hooks (compile probes; clean the isolated state) and returns the suite. */
export function useSuite(): Suite {
  const config = isolatedConfig();
  let kit: ProbeKit | undefined;
  const cache = new Map<TestRuntime, Promise<Availability>>();
  before(async () => {
    kit = await compileProbes();
  });
  after(async () => {
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
  };
}

/**
 * A case on one runtime: skipped with the runtime's reason when it can't run here, otherwise `fn`
 * runs with the ready runtime.
 */
export function runtimeCase(
  suite: Suite,
  runtime: TestRuntime,
  name: string,
  fn: (t: TestContext, ready: Ready) => Promise<void> | void,
  options: { timeout?: number; knownGap?: string } = {},
): void {
  // A known gap still runs with its full assertion, but is reported as TODO with the reason.
  const todo = options.knownGap === undefined ? {} : { todo: options.knownGap };
  test(name, { timeout: options.timeout ?? 120_000, ...todo }, async (t) => {
    const avail = await suite.runtime(runtime);
    if (!avail.ok) {
      t.skip(avail.reason);
      return;
    }
    await fn(t, avail);
  });
}
