/**
 * Shape rules every front end (HTTP API, `airlock run`) checks a request's paths and image names
 * with: one place for each rule, so the CLI and the API can't drift apart. Each front end words
 * the refusal its own way (an ApiError naming the field, a UsageError naming the option).
 */
import type { AirlockConfig } from '../config/config.ts';
import { NEVER_BELOW } from '../isolation/grants/never-grantable.ts';

/** Longest path accepted. */
export const MAX_PATH_LENGTH = 4096;

/** Longest `stdin` field of a request, in characters. */
export const MAX_STDIN_CHARS = 768 * 1024;
/** Largest input a request carries: what fits the `stdin` field once base64-encoded. */
export const MAX_STDIN_BYTES = (MAX_STDIN_CHARS * 3) / 4;

/** Image references: a name (letters, digits, `._-`, at most 128) or a `sha256:` digest. */
export const IMAGE_REF_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$|^sha256:[0-9a-f]{64}$/;

/**
 * Why `path` is refused as an absolute path (a sandbox path, or a host path to grant), or
 * undefined when it is fine: 1 to `maxLength` characters, absolute, no NUL, no `..` component.
 * `..` is refused on sight, though every path is confined later too: an escape attempt is not
 * something to normalise.
 */
export function absolutePathProblem(path: string, maxLength = MAX_PATH_LENGTH): string | undefined {
  if (path.length === 0 || path.length > maxLength) return `path must be 1-${maxLength} characters`;
  if (path.includes('\0')) return 'path contains a NUL byte';
  if (!path.startsWith('/')) return `path must be absolute, got "${path.slice(0, 200)}"`;
  if (path.split('/').includes('..')) return 'path may not contain ".." components';
  return undefined;
}

/** `path` without trailing slashes (`/` stays `/`). */
export function withoutTrailingSlashes(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, '') || '/' : path;
}

/**
 * Host trees (with everything below them) no grant may reach: kernel interfaces, devices, runtime
 * sockets. The drivers refuse them again on the pinned path, along with a few exact directories.
 */
export const DEFAULT_DENIED_HOST_PREFIXES: readonly string[] = NEVER_BELOW;

/** The denied host prefixes under `config`: the fixed trees, and airlock's own state and run directories. */
export function deniedHostPrefixes(config: Pick<AirlockConfig, 'stateDir' | 'runDir'>): string[] {
  // Why: the controller's own state (images, bundles, uid leases) must never be granted to a sandbox.
  return [...DEFAULT_DENIED_HOST_PREFIXES, config.stateDir, config.runDir];
}
