/**
 * Turns validated wire requests into the service's shapes, applying the checks a schema can't
 * express: paths, host-path grants, limits against the configured maxima, the policy pin, and the
 * code/command choice. Every refusal is an ApiError naming the field in `details`; a check over
 * several fields or items (limits, grants) lists every problem it finds (see problems.ts).
 */
import type { NetworkMode, NetworkRequest } from '../network/policy.ts';
import type { IncomingHttpHeaders } from 'node:http';
import type { LimitBounds } from '../config/config.ts';
import type { GrantedMount, Limits } from '../isolation/driver.ts';
import { LimitError, resolveLimits } from '../sandbox/limits.ts';
import { shellArgv } from '../sandbox/prepare.ts';
import { absolutePathProblem, MAX_PATH_LENGTH, withoutTrailingSlashes } from '../sandbox/request-rules.ts';

export { DEFAULT_DENIED_HOST_PREFIXES } from '../sandbox/request-rules.ts';
import { isAtOrUnder } from '../host/paths.ts';
import { ApiError } from './errors.ts';
import { fieldError, mergeRefusals } from './problems.ts';
import { POLICY_HASH_PATTERN, type ExecuteRequest } from './schemas.ts';

/** What the API checks requests against. */
export interface RequestPolicy {
  defaults: LimitBounds;
  maxima: LimitBounds;
  /** Host paths (and everything below them) that may never be granted. */
  deniedHostPrefixes: readonly string[];
  /** When set, a granted host path must lie under one of these. */
  allowedHostPrefixes?: readonly string[] | undefined;
}

/** Sandbox paths a grant may not cover: the runtime's own mounts. */
const RESERVED_TARGETS = ['/proc', '/dev', '/sys'];

/**
 * Validates an absolute path by the shared rule (src/sandbox/request-rules.ts: relative, NUL and
 * `..` are refused); returns it without trailing slashes.
 */
export function checkPath(field: string, path: string, maxLength = MAX_PATH_LENGTH): string {
  const problem = absolutePathProblem(path, maxLength);
  if (problem !== undefined) throw fieldError('invalid_path', field, problem);
  return withoutTrailingSlashes(path);
}

type Grant = string | { host_path: string; sandbox_path?: string | undefined; mode?: 'ro' | 'rw' | undefined };

/**
 * Maps `filesystem_access` to mounts: bare paths read-only at the same place, objects as given.
 * Every grant is checked; the refusal lists each bad one (malformed ones first: 400, else 403).
 */
export async function toMounts(grants: readonly Grant[] | undefined, field: string, policy: RequestPolicy): Promise<GrantedMount[]> {
  const mounts: GrantedMount[] = [];
  const refusals: ApiError[] = [];
  const targets = new Set<string>();
  for (const [i, grant] of (grants ?? []).entries()) {
    const f = `${field}[${i}]`;
    try {
      const mount = toMount(grant, f, policy);
      if (targets.has(mount.sandboxPath)) throw fieldError('invalid_path', f, `${mount.sandboxPath} is granted twice`);
      targets.add(mount.sandboxPath);
      mounts.push(mount);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      refusals.push(err);
    }
  }
  if (refusals.length > 0) throw mergeRefusals(refusals);
  return mounts;
}

function toMount(grant: Grant, f: string, policy: RequestPolicy): GrantedMount {
  const hostPath = checkPath(`${f}${typeof grant === 'string' ? '' : '.host_path'}`, typeof grant === 'string' ? grant : grant.host_path);
  const sandboxPath = checkPath(`${f}.sandbox_path`, typeof grant === 'string' ? hostPath : (grant.sandbox_path ?? hostPath));
  // Checked and passed on as written, never resolved: drivers refuse a path with any symlink in it
  // (so a link can't smuggle in a denied tree), and resolving here, as root, would tell callers what exists.
  // First: a bare `/proc/1` is refused for what it grants, not for where it would be mounted.
  checkHostPath(f, hostPath, policy);
  if (sandboxPath === '/' || RESERVED_TARGETS.some((r) => isAtOrUnder(sandboxPath, r))) {
    throw fieldError('invalid_path', f, `${sandboxPath} is managed by the runtime and can't be a mount target`);
  }
  return { hostPath, sandboxPath, writable: typeof grant !== 'string' && grant.mode === 'rw' };
}

/**
 * Refuses a well-formed host path that may not be granted, with the code and status the drivers'
 * own refusal gets (403 filesystem_access_refused): which layer noticed first is not the caller's concern.
 */
function checkHostPath(field: string, path: string, policy: RequestPolicy): void {
  const refuse = (why: string) => new ApiError('filesystem_access_refused', `filesystem_access: ${field}: ${why}`, {}, [{ path: field, message: why }]);
  // Granting the host root would hand over everything at once.
  if (path === '/') throw refuse('the host root may not be granted to a sandbox');
  const denied = policy.deniedHostPrefixes.find((p) => isAtOrUnder(path, p));
  if (denied !== undefined) throw refuse(`host paths under ${denied} may not be granted to a sandbox`);
  const allowed = policy.allowedHostPrefixes;
  if (allowed !== undefined && !allowed.some((p) => isAtOrUnder(path, p))) {
    throw refuse(`${path} is outside the host paths this server grants`);
  }
}

/** Wire limit fields, as the seed and the sandbox info name them. */
export interface WireLimits {
  memory_limit_mb?: number | undefined;
  cpu_limit?: number | undefined;
  pids_limit?: number | undefined;
  scratch_mb?: number | undefined;
  timeout_seconds?: number | undefined;
}

const WIRE_NAME: Partial<Record<keyof Limits, keyof WireLimits>> = {
  memoryMb: 'memory_limit_mb',
  cpuCores: 'cpu_limit',
  pids: 'pids_limit',
  scratchMb: 'scratch_mb',
  timeoutSeconds: 'timeout_seconds',
};

/**
 * Checks requested limits with `resolveLimits` (refused, never clamped), each on its own so the
 * refusal lists every limit that is out of range; returns only those requested.
 */
export function toLimits(wire: WireLimits | undefined, fieldPrefix: string, policy: RequestPolicy): Partial<Limits> {
  const requested: Partial<Limits> = {};
  if (wire?.memory_limit_mb !== undefined) requested.memoryMb = wire.memory_limit_mb;
  if (wire?.cpu_limit !== undefined) requested.cpuCores = wire.cpu_limit;
  if (wire?.pids_limit !== undefined) requested.pids = wire.pids_limit;
  if (wire?.scratch_mb !== undefined) requested.scratchMb = wire.scratch_mb;
  if (wire?.timeout_seconds !== undefined) requested.timeoutSeconds = wire.timeout_seconds;
  const refusals: ApiError[] = [];
  for (const [key, value] of Object.entries(requested) as [keyof Limits, number][]) {
    try {
      resolveLimits({ [key]: value }, policy.defaults, policy.maxima);
    } catch (err) {
      if (!(err instanceof LimitError)) throw err;
      refusals.push(fieldError('invalid_request', `${fieldPrefix}${WIRE_NAME[err.field] ?? err.field}`, err.message));
    }
  }
  if (refusals.length > 0) throw mergeRefusals(refusals);
  return requested;
}

/** The request's network fields as one policy (validated against the configuration by the service). */
export function toNetworkRequest(body: { network_policy?: NetworkMode | undefined; allowed_hosts?: string[] | undefined; services?: string[] | undefined }): NetworkRequest {
  return { mode: body.network_policy ?? 'none', allowedHosts: body.allowed_hosts ?? [], services: body.services ?? [] };
}

/**
 * The policy pin from the body field or the `X-Airlock-Policy-Hash` header: malformed or
 * conflicting → 400; different from the active hash → 409. Returns the pin, if any.
 */
export function checkPolicyPin(headers: IncomingHttpHeaders, bodyPin: string | undefined, active: string): string | undefined {
  const header = headers['x-airlock-policy-hash'];
  if (Array.isArray(header)) throw fieldError('invalid_request', 'X-Airlock-Policy-Hash', 'give it once');
  if (header !== undefined && !POLICY_HASH_PATTERN.test(header)) {
    throw fieldError('invalid_request', 'X-Airlock-Policy-Hash', 'must be sha256: followed by 64 lowercase hex digits');
  }
  if (header !== undefined && bodyPin !== undefined && header !== bodyPin) {
    throw fieldError('invalid_request', 'body.expected_policy_hash', 'expected_policy_hash and X-Airlock-Policy-Hash disagree');
  }
  const pin = bodyPin ?? header;
  if (pin !== undefined && pin !== active) {
    throw new ApiError('policy_mismatch', `policy hash mismatch: the request pins ${pin}, the active policy is ${active}`);
  }
  return pin;
}

/** What to run: exactly one of `code` (with `language`, default python) or `command` (argv). */
export type CommandChoice = { command: string[]; code?: undefined; language?: undefined } | { code: string; language: 'python' | 'javascript' | 'bash'; command?: undefined };

/** Checks the code/command choice of a request body; a string command becomes `sh -c STRING`. */
export function commandOf(body: Pick<ExecuteRequest, 'code' | 'command' | 'language'> & { stdin?: string | undefined }): CommandChoice {
  if (body.code !== undefined && body.command !== undefined) throw fieldError('invalid_request', 'body', 'give either code or command, not both');
  // The code itself goes in on the interpreter's stdin: there is no second input to give.
  if (body.code !== undefined && body.stdin !== undefined) throw fieldError('invalid_request', 'body.stdin', 'code is fed to its interpreter on stdin; give stdin with command only');
  if (body.command !== undefined) {
    if (body.language !== undefined) throw fieldError('invalid_request', 'body.language', 'applies to code, not to command');
    return { command: typeof body.command === 'string' ? shellArgv(body.command) : body.command };
  }
  if (body.code === undefined) throw fieldError('invalid_request', 'body', 'one of code or command is required');
  return { code: body.code, language: body.language ?? 'python' };
}

/** Decodes `stdin`; base64 must be canonical so a typo isn't silently half-decoded. */
export function decodeStdin(stdin: string | undefined, encoding: 'utf8' | 'base64' | undefined): Buffer | undefined {
  if (stdin === undefined) {
    if (encoding !== undefined) throw fieldError('invalid_request', 'body.stdin_encoding', 'given without stdin');
    return undefined;
  }
  if (encoding !== 'base64') return Buffer.from(stdin, 'utf8');
  const bytes = Buffer.from(stdin, 'base64');
  if (bytes.toString('base64').replace(/=+$/, '') !== stdin.replace(/=+$/, '')) throw fieldError('invalid_request', 'body.stdin', 'not valid base64');
  return bytes;
}
