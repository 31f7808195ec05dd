/**
 * What lies under a failed `fetch`: Node's `fetch failed` hides the reason in `cause` (a refused
 * connection, a name that does not resolve, a missing socket). This names it, e.g.
 * `ECONNREFUSED 127.0.0.1:8080`, so an error message says what went wrong.
 */

interface SystemErrorLike {
  code?: unknown;
  message?: unknown;
  address?: unknown;
  port?: unknown;
  hostname?: unknown;
  path?: unknown;
  errors?: unknown;
  cause?: unknown;
}

function one(err: SystemErrorLike): string | undefined {
  if (typeof err.code === 'string') {
    const where =
      typeof err.address === 'string'
        ? `${err.address}${typeof err.port === 'number' ? `:${err.port}` : ''}`
        : typeof err.hostname === 'string'
          ? err.hostname
          : typeof err.path === 'string'
            ? err.path
            : '';
    return where === '' ? err.code : `${err.code} ${where}`;
  }
  return undefined;
}

/**
 * The innermost reason of `err` with a system error code (`ECONNREFUSED 127.0.0.1:8080`,
 * `ENOTFOUND example.invalid`, `ENOENT /run/airlock/api.sock`), several joined with `; ` (a name
 * with more than one address); else the innermost cause's message; undefined when there is none.
 */
export function underlyingCause(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  let current: unknown = err;
  let fallback: string | undefined;
  while (current !== null && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    const e = current as SystemErrorLike;
    const coded = one(e);
    if (coded !== undefined) return coded;
    if (Array.isArray(e.errors) && e.errors.length > 0) {
      const parts = [...new Set(e.errors.map((inner) => underlyingCause(inner)).filter((s): s is string => s !== undefined))];
      if (parts.length > 0) return parts.join('; ');
    }
    if (current !== err && typeof e.message === 'string' && e.message !== '') fallback = e.message;
    current = e.cause;
  }
  return fallback;
}
