/**
 * Pure path helpers shared by every layer: lexical only (no file system access, no links followed).
 */

/**
 * True when the absolute, normalized `path` is `dir` or lies below it (`/` holds every absolute
 * path). Component-wise: `/tmpfoo` is not under `/tmp`.
 */
export function isAtOrUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);
}
