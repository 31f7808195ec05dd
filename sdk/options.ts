/**
 * Checking an options object: every key is one the SDK knows. Why: an option the SDK dropped would
 * silently change what runs (E2B's `user: 'root'`, a misspelt `timeoutMS`), so a key that is not
 * known, or one of E2B's that airlock does not support, is an `InvalidRequestError` naming it.
 */
import { InvalidRequestError } from './errors.ts';

/**
 * Throws unless every key of `options` whose value is not undefined is in `known`. `unsupported`
 * maps E2B's option names airlock lacks to why, quoted in the error.
 */
export function checkOptions(where: string, options: object | undefined, known: ReadonlySet<string>, unsupported: Readonly<Record<string, string>> = {}): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidRequestError(`${where}: options must be an object`, { code: 'invalid_argument' });
  }
  const problems: string[] = [];
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined || known.has(key)) continue;
    const why = Object.hasOwn(unsupported, key) ? unsupported[key] : undefined;
    problems.push(why === undefined ? `unknown option "${key}"` : `option "${key}" is not supported: ${why}`);
  }
  if (problems.length > 0) {
    throw new InvalidRequestError(`${where}: ${problems.join('; ')} (known: ${[...known].sort().join(', ')})`, { code: 'invalid_argument' });
  }
}

/** Whole seconds of a positive millisecond duration, rounded up (`name` for the error). */
export function secondsOfMs(name: string, ms: unknown): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) {
    throw new InvalidRequestError(`${name}: must be a positive number of milliseconds (got ${String(ms)})`, { code: 'invalid_argument' });
  }
  return Math.ceil(ms / 1000);
}
