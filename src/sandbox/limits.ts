/**
 * Turns requested limits into enforced ones: defaults fill gaps, and a value outside (0, maximum]
 * is refused with the field's name. Never clamped silently: a caller asking for more than the
 * host allows must learn it was refused.
 */
import type { Limits } from '../isolation/driver.ts';
import type { LimitBounds } from '../config/config.ts';

/** A refused limit; `field` is the Limits key so each front end can name its own option. */
export class LimitError extends Error {
  override readonly name = 'LimitError';
  readonly field: keyof Limits;
  constructor(field: keyof Limits, message: string) {
    super(message);
    this.field = field;
  }
}

/** What a request may ask for: any field, absent or explicitly undefined (then the default applies). */
export type RequestedLimits = { [K in keyof Limits]?: Limits[K] | undefined };

const INTEGER_FIELDS: ReadonlySet<keyof Limits> = new Set(['memoryMb', 'pids', 'scratchMb', 'outputBytes', 'openFiles']);

/** Applies defaults and checks every requested value against the configured maxima. */
export function resolveLimits(requested: RequestedLimits, defaults: LimitBounds, maxima: LimitBounds): Limits {
  const limits = { ...defaults };
  for (const key of Object.keys(defaults) as (keyof Limits)[]) {
    const value = requested[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new LimitError(key, `must be a number, got ${String(value)}`);
    if (INTEGER_FIELDS.has(key) && !Number.isInteger(value)) throw new LimitError(key, `must be a whole number, got ${value}`);
    if (value <= 0) throw new LimitError(key, `must be greater than 0, got ${value}`);
    if (value > maxima[key]) throw new LimitError(key, `${value} exceeds the maximum of ${maxima[key]}`);
    limits[key] = value;
  }
  return limits;
}
