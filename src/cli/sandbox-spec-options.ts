/**
 * Parsers of the options that describe a sandbox, shared by `airlock run` and `airlock sandbox
 * create` (and `sandbox exec --env`), so each option accepts and refuses the same values with the
 * same message whichever command it is given to. Pure: every refusal is a UsageError naming the
 * option; ranges and allowlist entries are checked later (run: the config; create: the server).
 */
import { isAbsolute, resolve as resolvePath } from 'node:path';
import type { GrantedMount } from '../isolation/driver.ts';
import { IMPLEMENTED_RUNTIMES, isImplementedRuntime, type ImplementedRuntime } from '../isolation/runtimes.ts';
import { NETWORK_MODES, NetworkPolicyError, type NetworkMode, type NetworkRequest } from '../network/policy.ts';
import { absolutePathProblem, IMAGE_REF_PATTERN, withoutTrailingSlashes } from '../sandbox/request-rules.ts';
import { checkSecretNames } from '../secrets/names.ts';
import { UsageError } from './usage-error.ts';

/** Sandbox paths a grant may not cover: the runtime's own mounts. */
const RESERVED_TARGETS = ['/', '/proc', '/dev', '/sys'];
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `--runtime`: one this build implements. */
export function parseRuntime(value: string): ImplementedRuntime {
  if (!isImplementedRuntime(value)) throw new UsageError(`--runtime: unknown runtime "${value}" (choose ${IMPLEMENTED_RUNTIMES.join(', ')})`);
  return value;
}

/** `--image`: a well-formed image name (whether it exists is the image store's to say). */
export function parseImage(value: string): string {
  if (!IMAGE_REF_PATTERN.test(value)) throw new UsageError(`--image: invalid image name "${value}"`);
  return value;
}

/** `--env KEY=VALUE` pairs into a record; later pairs win. */
export function parseEnv(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq > 0 ? pair.slice(0, eq) : '';
    if (!ENV_NAME.test(key)) throw new UsageError(`--env: expected KEY=VALUE with a valid name, got "${pair}"`);
    // Why: a NUL can't be passed through execve; refused here rather than truncated there.
    if (pair.includes('\0')) throw new UsageError(`--env: ${key} contains a NUL byte`);
    env[key] = pair.slice(eq + 1);
  }
  return env;
}

/** `--secret` names, checked by the one secret-name rule (src/secrets/names.ts). */
export function parseSecrets(names: readonly string[]): string[] {
  try {
    return checkSecretNames([...names]);
  } catch (err) {
    throw new UsageError(`--secret: ${(err as Error).message}`);
  }
}

/**
 * `--network` with its `--allow` and `--service` entries: mode and list shapes only; the
 * allowlist itself is checked (with reasons) before the sandbox starts.
 */
export function parseNetwork(mode: string, allow: readonly string[], service: readonly string[]): NetworkRequest {
  if (!(NETWORK_MODES as readonly string[]).includes(mode)) {
    throw new UsageError(`--network: unknown mode "${mode}" (choose ${NETWORK_MODES.join(', ')})`);
  }
  // Why: an allowlist outside restricted mode would be silently meaningless (none has no egress, full no allowlist).
  if (mode !== 'restricted' && allow.length > 0) throw new UsageError(`--allow: only applies to --network restricted`);
  if (mode !== 'restricted' && service.length > 0) throw new UsageError(`--service: only applies to --network restricted`);
  return { mode: mode as NetworkMode, allowedHosts: [...allow], services: [...service] };
}

/**
 * The `--allow` entries' own syntax, by the proxy's allowlist parser: a bad entry is refused before
 * anything is sent, with the message `airlock run` gives for it. What depends on the server's
 * configuration (its services, its maximum number of entries) is the server's to check.
 */
export async function checkAllowEntries(allow: readonly string[]): Promise<void> {
  if (allow.length === 0) return;
  // Loaded only when there is an allowlist to parse (it carries the public-suffix list).
  const { AllowlistError, parseAllowlist } = await import('../network/proxy/allowlist.ts');
  try {
    parseAllowlist([...allow]);
  } catch (err) {
    if (!(err instanceof AllowlistError)) throw err;
    throw new UsageError(`--allow/--service: ${new NetworkPolicyError(err.problems).message}`);
  }
}

/**
 * `--mount HOST:SANDBOX[:ro|rw]`: read-only unless rw; a relative HOST resolves against `cwd`
 * (the caller's directory: the server can't know it). The host path's own checks (never-grantable
 * trees, symlinks, ownership) are the driver's and the server's, on the path as given.
 */
export function parseMount(spec: string, cwd: string): GrantedMount {
  const parts = spec.split(':');
  let mode = 'ro';
  if (parts.length === 3) mode = parts.pop() as string;
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
    throw new UsageError(`--mount: expected HOST:SANDBOX[:ro|rw], got "${spec}"`);
  }
  if (mode !== 'ro' && mode !== 'rw') throw new UsageError(`--mount: mode must be ro or rw, got "${mode}"`);
  const [host, target] = parts as [string, string];
  const sandboxPath = sandboxPathOption('--mount', target);
  if (RESERVED_TARGETS.some((r) => sandboxPath === r || (r !== '/' && sandboxPath.startsWith(`${r}/`)))) {
    throw new UsageError(`--mount: ${sandboxPath} is managed by the runtime and can't be a mount target`);
  }
  return { hostPath: isAbsolute(host) ? host : resolvePath(cwd, host), sandboxPath, writable: mode === 'rw' };
}

/** A path inside the sandbox given to `option`, by the shared path rule (src/sandbox/request-rules.ts) the API applies too. */
export function sandboxPathOption(option: string, path: string): string {
  const problem = absolutePathProblem(path);
  if (problem !== undefined) throw new UsageError(`${option}: sandbox ${problem}`);
  return withoutTrailingSlashes(path);
}
