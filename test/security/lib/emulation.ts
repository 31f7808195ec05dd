/**
 * Knobs for running the suite on an emulated host (the test guest of test/hosts/, under QEMU's TCG,
 * is several times slower than the machine it runs on). They stretch waits and the time limits a
 * case gives its own start-up, and size the leftovers batch; they never change what a case asserts.
 * Unset (any real host), every knob is its neutral value.
 */

/** A positive number from the environment, or `fallback` when unset or not one. */
function positive(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

/** How many times slower than a real host this one runs ($AIRLOCK_TEST_SLOWNESS, at least 1). */
export function slowness(): number {
  return Math.max(1, positive('AIRLOCK_TEST_SLOWNESS', 1));
}

/** `ms` (or seconds: any duration) stretched by {@link slowness}. */
export function stretched(duration: number): number {
  return duration * slowness();
}

/** Sandboxes per runtime in the leftovers batch ($AIRLOCK_TEST_LEFTOVERS_COUNT, else `fallback`). */
export function leftoversCount(fallback: number): number {
  return Math.round(positive('AIRLOCK_TEST_LEFTOVERS_COUNT', fallback));
}
