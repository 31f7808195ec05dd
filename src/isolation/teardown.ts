/**
 * The one way a driver tears a sandbox down: every step runs even if an earlier one failed (a
 * cgroup that won't go must not keep the run directory or the lease), and the first failure is
 * reported once all have run, as a ControlError naming the runtime.
 */
import { ControlError } from '../host/control-error.ts';

/** A teardown step; `false` marks a step that does not apply to this sandbox. */
export type TeardownStep = (() => unknown) | false;

/** Runs `steps` in order; resolves when all succeeded, otherwise rejects with the first failure. */
export async function runTeardown(runtime: string, sandboxId: string, steps: readonly TeardownStep[]): Promise<void> {
  const errors: unknown[] = [];
  for (const step of steps) {
    if (step === false) continue;
    try {
      await step();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length === 0) return;
  const first = errors[0];
  if (first instanceof ControlError) throw first;
  throw new ControlError(runtime, `teardown of ${sandboxId} incomplete: ${(first as Error).message}`, { cause: first });
}
