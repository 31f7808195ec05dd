/**
 * Retrying a request the server refused with 429 (at capacity, or a rate limit): bounded, and
 * waiting as long as its `Retry-After` says. Nothing ran on a 429, so sending it again is safe.
 */
import { AirlockError, RateLimitError } from './errors.ts';

/** How 429 answers are retried; `retry: false` in the connection options turns retrying off. */
export interface RetryOptions {
  /** Retries after the first attempt (default 3; 0 = none). */
  retries?: number | undefined;
  /** Longest wait the SDK accepts, ms (default 30 000): a longer `Retry-After` is thrown at once as `RateLimitError`. */
  maxDelayMs?: number | undefined;
  /** Wait when the answer has no `Retry-After`, ms (default 1 000; doubled on each retry). */
  defaultDelayMs?: number | undefined;
}

/** The retry settings with every default filled in. */
export interface RetryPolicy {
  readonly retries: number;
  readonly maxDelayMs: number;
  readonly defaultDelayMs: number;
}

/** The policy of `retry: false`: no retries. */
export const NO_RETRY: RetryPolicy = Object.freeze({ retries: 0, maxDelayMs: 0, defaultDelayMs: 0 });

function checked(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new AirlockError(`retry.${name}: must be a number of 0 or more (got ${String(value)})`, { code: 'invalid_argument' });
  return value;
}

/** The policy for the `retry` connection option (undefined: the defaults). */
export function retryPolicy(options: RetryOptions | false | undefined): RetryPolicy {
  if (options === false) return NO_RETRY;
  if (options !== undefined && (typeof options !== 'object' || options === null)) throw new AirlockError('retry: give {retries, maxDelayMs, defaultDelayMs} or false', { code: 'invalid_argument' });
  const unknown = Object.keys(options ?? {}).filter((k) => !['retries', 'maxDelayMs', 'defaultDelayMs'].includes(k));
  if (unknown.length > 0) throw new AirlockError(`retry: unknown option ${unknown.join(', ')} (known: retries, maxDelayMs, defaultDelayMs)`, { code: 'invalid_argument' });
  return {
    retries: Math.floor(checked('retries', options?.retries, 3)),
    maxDelayMs: checked('maxDelayMs', options?.maxDelayMs, 30_000),
    defaultDelayMs: checked('defaultDelayMs', options?.defaultDelayMs, 1_000),
  };
}

/**
 * How long to wait before retry number `attempt` (1-based) of a request refused with `err`; undefined
 * when it must not be retried (not a 429, no retries left, or the server asks for a longer wait
 * than the policy accepts).
 */
export function retryDelayMs(policy: RetryPolicy, err: unknown, attempt: number): number | undefined {
  if (!(err instanceof RateLimitError) || attempt > policy.retries) return undefined;
  const delay = err.retryAfter !== undefined ? err.retryAfter * 1000 : policy.defaultDelayMs * 2 ** (attempt - 1);
  return delay <= policy.maxDelayMs ? delay : undefined;
}

/** Resolves after `ms`, or rejects as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
