/**
 * Listing every problem of a request, not just the first: the checks a schema can't express
 * (paths, grants, limits, the code/command choice) each refuse with an ApiError naming its field
 * in `details`, and `checkAll` runs a request's checks together and merges what they refuse.
 */
import { ApiError, type ErrorDetail } from './errors.ts';
import type { ErrorCode } from './error-codes.ts';

/** A refusal of one field: the message reads `path: message`, and `details` lists the same problem. */
export function fieldError(code: ErrorCode, path: string, message: string): ApiError {
  return new ApiError(code, `${path}: ${message}`, {}, [{ path, message }]);
}

function detailsOf(err: ApiError): ErrorDetail[] {
  return err.details ?? [{ path: 'body', message: err.message }];
}

/**
 * One refusal for several: the malformed-input ones (400) together if there are any (the rest may
 * not even apply until the input is fixed), else those sharing the first one's code. Every problem
 * merged is in `details` and in the message; the code is theirs when they agree, else invalid_request.
 */
export function mergeRefusals(errors: readonly ApiError[]): ApiError {
  const first = errors[0];
  if (first === undefined) throw new TypeError('no refusal to merge');
  const malformed = errors.filter((e) => e.status === 400);
  const chosen = malformed.length > 0 ? malformed : errors.filter((e) => e.code === first.code);
  const [only] = chosen;
  if (chosen.length === 1 && only !== undefined) return only;
  const codes = new Set(chosen.map((e) => e.code));
  const code = codes.size === 1 ? (only?.code ?? 'invalid_request') : 'invalid_request';
  return new ApiError(code, chosen.map((e) => e.message).join('; '), {}, chosen.flatMap(detailsOf));
}

type Checked<T extends Record<string, () => unknown>> = { [K in keyof T]: Awaited<ReturnType<T[K]>> };

/**
 * Runs every check (all of them, even after one refuses) and returns their results by name; when
 * any refuse, throws `mergeRefusals` of them. Anything other than an ApiError is a fault, rethrown.
 */
export async function checkAll<T extends Record<string, () => unknown>>(checks: T): Promise<Checked<T>> {
  const results: Record<string, unknown> = {};
  const refusals: ApiError[] = [];
  for (const [name, check] of Object.entries(checks)) {
    try {
      results[name] = await check();
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      refusals.push(err);
    }
  }
  if (refusals.length > 0) throw mergeRefusals(refusals);
  return results as Checked<T>;
}
