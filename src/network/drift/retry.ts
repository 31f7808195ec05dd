/**
 * Bounded retries with exponential backoff, for host reads that may fail for a moment under load
 * (an `nft` listing that times out): a reader that can't answer is asked again before anyone acts
 * on its silence, and gives up after a fixed number of attempts.
 */
import { ToolTimeoutError, formatSeconds } from '../host-tools.ts';

/** How often, and how patiently, a failing read is tried. */
export interface RetryPolicy {
  /** Tries in all (1 = no retry). */
  attempts: number;
  /** Wait before the second try; doubled before each later one. */
  backoffMs: number;
}

/** Every attempt failed; `message` says what the last one said (a timeout says it timed out). */
export class RetryExhaustedError extends Error {
  readonly attempts: number;
  constructor(last: unknown, attempts: number) {
    super(`${reason(last)} (${attempts} attempt${attempts === 1 ? '' : 's'})`, { cause: last });
    this.name = 'RetryExhaustedError';
    this.attempts = attempts;
  }
}

/** Why a read failed, in a few words: `timed out after 10 s`, or the error's own message. */
export function reason(err: unknown): string {
  if (err instanceof ToolTimeoutError) return `timed out after ${formatSeconds(err.timeoutMs)}`;
  return err instanceof Error ? err.message : String(err);
}

/** Runs `fn` until it resolves or `policy.attempts` tries failed; aborting stops waiting at once. */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy, signal?: AbortSignal): Promise<T> {
  let last: unknown;
  for (let attempt = 1; attempt <= policy.attempts; attempt++) {
    if (signal?.aborted === true) break;
    try {
      return await fn(attempt);
    } catch (err) {
      last = err;
    }
    if (attempt < policy.attempts) await pause(policy.backoffMs * 2 ** (attempt - 1), signal);
  }
  if (signal?.aborted === true) throw new Error('aborted', { cause: last });
  throw new RetryExhaustedError(last, policy.attempts);
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
