/**
 * Option parsing of `airlock sandbox …`: pure functions that turn commander's raw strings into
 * SDK requests. Every refusal is a UsageError naming the option (exit code 2); ranges are the
 * server's to check, so the CLI never disagrees with it about a maximum.
 */
import type { CreateSandboxRequest, ExecuteRequest } from '../../sdk/types.ts';
import { UsageError } from './usage-error.ts';
import { DEFAULT_BASE_URL } from '../../sdk/http.ts';
import { parseEnv, parseImage, parseMount, parseNetwork, parseRuntime, parseSecrets } from './sandbox-spec-options.ts';

/** The server `airlock serve` listens on by default. */
export const DEFAULT_URL = DEFAULT_BASE_URL;

/** Raw options of `sandbox create`. */
export interface RawCreateOptions {
  url?: string;
  socket?: string;
  key?: string;
  runtime?: string;
  image?: string;
  memory?: string;
  cpu?: string;
  pids?: string;
  scratch?: string;
  timeout?: string;
  ttl?: string;
  idleTimeout?: string;
  metadata: string[];
  env: string[];
  /** `--secret NAME` (repeatable). */
  secret?: string[];
  /** `--mount HOST:SANDBOX[:ro|rw]` (repeatable). */
  mount?: string[];
  network?: string;
  allow?: string[];
  service?: string[];
  json?: boolean;
}

/** Raw options of `sandbox exec`. */
export interface RawExecOptions {
  url?: string;
  socket?: string;
  key?: string;
  timeout?: string;
  env: string[];
  cwd?: string;
  stdin: boolean;
}

/**
 * A server URL: `--url`, else `$AIRLOCK_URL`, else the local default. Must be http(s); `where` names
 * the option in messages. (The CLI picks its server with server-connection.ts, which also knows
 * unix sockets.)
 */
export function resolveUrl(option: string | undefined, env: Readonly<Record<string, string | undefined>> = process.env, where: string = option !== undefined ? '--url' : 'AIRLOCK_URL'): string {
  const fromEnv = env['AIRLOCK_URL'];
  const url = option ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_URL);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`${where}: "${url}" is not a URL (expected e.g. ${DEFAULT_URL})`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError(`${where}: "${url}" must be an http or https URL`);
  return url;
}

/**
 * A positive number (`integer`: whole) from an option value; undefined when not given. The
 * refusals read as `airlock run`'s limit checks (src/sandbox/limits.ts) read for the same value.
 */
export function parsePositive(option: string, value: string | undefined, integer = false): number | undefined {
  if (value === undefined) return undefined;
  const n = parseNumberText(option, value);
  if (integer && !Number.isInteger(n)) throw new UsageError(`${option}: must be a whole number, got ${n}`);
  if (!(n > 0)) throw new UsageError(`${option}: must be greater than 0, got ${n}`);
  return n;
}

/**
 * The number a numeric option's text spells (decimal digits, a fraction unless `integer`); a
 * negative one is refused as such ("must be positive"), anything else as not a number.
 */
export function parseNumberText(option: string, value: string, integer = false): number {
  const text = value.trim();
  const pattern = integer ? /^\d+$/ : /^\d+(\.\d+)?$/;
  if (/^-\d+(\.\d+)?$/.test(text)) throw new UsageError(`${option}: must be positive, got ${text}`);
  if (!pattern.test(text)) throw new UsageError(`${option}: "${value}" is not a ${integer ? 'whole number' : 'number'}`);
  return Number(text);
}

/**
 * A note for `--allow` entries naming a loopback address: inside a sandbox that is the sandbox's
 * own loopback (NO_PROXY keeps ordinary clients from sending it to the proxy), so a service on the
 * host's loopback is reached as `host.airlock.internal:PORT` instead. Undefined when none does.
 */
export function loopbackAllowNote(entries: readonly string[]): string | undefined {
  const loopback = entries.filter((e) => /^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$/i.test(e));
  if (loopback.length === 0) return undefined;
  const ports = loopback.map((e) => /:(\d+)$/.exec(e)?.[1] ?? '80');
  const instead = ports.map((p) => `--allow host.airlock.internal:${p}`).join(' ');
  return `note: ${loopback.join(', ')} inside the sandbox is its own loopback, which clients reach directly, not through the proxy; for a service on this host's loopback use ${instead} and http://host.airlock.internal:${ports[0] ?? '80'}/`;
}

/** `KEY=VALUE` pairs into a record; `name` checks the key. Later pairs win. */
export function parsePairs(option: string, pairs: readonly string[], name: RegExp, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    if (eq < 0 || !name.test(key)) throw new UsageError(`${option}: expected ${what}=VALUE with a valid ${what.toLowerCase()}, got "${pair}"`);
    if (pair.includes('\0')) throw new UsageError(`${option}: ${key} contains a NUL byte`);
    out[key] = pair.slice(eq + 1);
  }
  return out;
}

const METADATA_KEY = /^[A-Za-z0-9_.:/-]{1,64}$/;

/** The options of a sandbox's spec that `sandbox create` and a run through the server share. */
export type RawSpecOptions = Pick<RawCreateOptions, 'runtime' | 'image' | 'memory' | 'cpu' | 'pids' | 'scratch' | 'timeout' | 'env' | 'secret' | 'mount' | 'network' | 'allow' | 'service'>;

/** The limit fields, flat as a one-shot takes them (a create nests them under `limits`). */
export type LimitFields = Pick<ExecuteRequest, 'memory_limit_mb' | 'cpu_limit' | 'pids_limit' | 'scratch_mb' | 'timeout_seconds'>;

/** The limits given; ranges are the server's to check. */
export function limitFieldsOf(raw: RawSpecOptions): LimitFields {
  const limits: LimitFields = {};
  const memory = parsePositive('--memory', raw.memory, true);
  const cpu = parsePositive('--cpu', raw.cpu);
  const pids = parsePositive('--pids', raw.pids, true);
  const scratch = parsePositive('--scratch', raw.scratch, true);
  const timeout = parsePositive('--timeout', raw.timeout);
  if (memory !== undefined) limits.memory_limit_mb = memory;
  if (cpu !== undefined) limits.cpu_limit = cpu;
  if (pids !== undefined) limits.pids_limit = pids;
  if (scratch !== undefined) limits.scratch_mb = scratch;
  if (timeout !== undefined) limits.timeout_seconds = timeout;
  return limits;
}

/**
 * The spec fields other than limits, each parsed by the parser `airlock run` uses
 * (sandbox-spec-options.ts). `cwd` resolves relative `--mount` host paths: the server can't.
 */
export function specFieldsOf(raw: RawSpecOptions, cwd: string): Pick<ExecuteRequest, 'runtime' | 'image' | 'environment' | 'secrets' | 'filesystem_access' | 'network_policy' | 'allowed_hosts' | 'services'> {
  const request: ReturnType<typeof specFieldsOf> = {};
  if (raw.runtime !== undefined) request.runtime = parseRuntime(raw.runtime);
  if (raw.image !== undefined) request.image = parseImage(raw.image);
  if (raw.env.length > 0) request.environment = parseEnv(raw.env);
  if ((raw.secret ?? []).length > 0) request.secrets = parseSecrets(raw.secret ?? []);
  const mounts = (raw.mount ?? []).map((spec) => parseMount(spec, cwd));
  if (mounts.length > 0) {
    request.filesystem_access = mounts.map((m) => ({ host_path: m.hostPath, sandbox_path: m.sandboxPath, mode: m.writable ? 'rw' : 'ro' }));
  }
  // Without --network the server's default (none) applies, so --allow and --service are refused as `run` refuses them.
  const network = parseNetwork(raw.network ?? 'none', raw.allow ?? [], raw.service ?? []);
  if (raw.network !== undefined) request.network_policy = network.mode;
  // The server validates each allowlist entry and service name, and names every problem.
  if (network.allowedHosts.length > 0) request.allowed_hosts = network.allowedHosts;
  if (network.services.length > 0) request.services = network.services;
  return request;
}

/** The create request for `sandbox create` options. */
export function createRequestOf(raw: RawCreateOptions, cwd: string = process.cwd()): CreateSandboxRequest {
  const request: CreateSandboxRequest = specFieldsOf(raw, cwd);
  const limits = limitFieldsOf(raw);
  if (Object.keys(limits).length > 0) request.limits = limits;
  const ttl = parsePositive('--ttl', raw.ttl, true);
  if (ttl !== undefined) request.ttl_seconds = ttl;
  const idle = parsePositive('--idle-timeout', raw.idleTimeout, true);
  if (idle !== undefined) request.idle_timeout_seconds = idle;
  if (raw.metadata.length > 0) request.metadata = parsePairs('--metadata', raw.metadata, METADATA_KEY, 'KEY');
  return request;
}

/** A mode given as octal digits (`644`, `0755`). */
export function parseMode(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^0?[0-7]{3}$/.test(value)) throw new UsageError(`--mode: expected an octal mode such as 0644, got "${value}"`);
  return value;
}

/** A sandbox path: absolute. (The server refuses `..` and the rest, naming the field.) */
export function checkSandboxPath(path: string): string {
  if (!path.startsWith('/')) throw new UsageError(`PATH: the path inside the sandbox must be absolute, got "${path}"`);
  return path;
}
