/**
 * Parses and validates `airlock run` options into an execution plan. Pure: every refusal is a
 * UsageError that names the option, and nothing is clamped silently.
 */
import { isAbsolute, resolve as resolvePath } from 'node:path';
import type { AirlockConfig } from '../config/config.ts';
import type { GrantedMount, Limits } from '../isolation/driver.ts';
import { isImplementedRuntime, type ImplementedRuntime } from '../isolation/runtimes.ts';
import { LimitError, resolveLimits, type RequestedLimits } from '../sandbox/limits.ts';
import { absolutePathProblem, IMAGE_REF_PATTERN, withoutTrailingSlashes } from '../sandbox/request-rules.ts';
import { UsageError } from './usage-error.ts';
import { parseNumberText } from './sandbox-options.ts';
import { checkSecretNames } from '../secrets/names.ts';

import { BASE_ENV, INTERPRETERS, type Language } from '../sandbox/prepare.ts';
import { NETWORK_MODES, type NetworkMode, type NetworkRequest } from '../network/policy.ts';

/** Raw option values as commander hands them over. */
export interface RawRunOptions {
  runtime: string;
  image?: string;
  memory?: string;
  cpu?: string;
  pids?: string;
  timeout?: string;
  scratch?: string;
  env: string[];
  /** `--secret NAME` (repeatable); absent when the caller builds options in code. */
  secret?: string[];
  mount: string[];
  workdir: string;
  network: string;
  allow: string[];
  service: string[];
  language?: string;
  code?: string;
  json: boolean;
  /** An approval of exactly this run, once an approver has decided it. */
  approval?: string;
}

export interface RunPlan {
  runtime: ImplementedRuntime;
  image: string;
  limits: Limits;
  env: Record<string, string>;
  mounts: GrantedMount[];
  workdir: string;
  network: NetworkRequest;
  /** Names of the secrets the sandbox is given (each decided by policy, placed under /run/secrets). */
  secrets?: string[];
  /** The command, or the interpreter when `language` is set. */
  argv: string[];
  /** Code for the interpreter (fed on stdin), when `language` is set. */
  language?: Language;
  code?: string;
  json: boolean;
}

const OPTION_OF: Record<keyof Limits, string> = {
  memoryMb: '--memory',
  cpuCores: '--cpu',
  pids: '--pids',
  timeoutSeconds: '--timeout',
  scratchMb: '--scratch',
  outputBytes: 'outputBytes (config)',
  openFiles: 'openFiles (config)',
};

/** Sandbox paths a grant may not cover: the runtime's own mounts. */
const RESERVED_TARGETS = ['/', '/proc', '/dev', '/sys'];

/** Validates options and returns the plan. `cwd` resolves relative host paths. */
export function parseRunOptions(raw: RawRunOptions, command: string[], config: AirlockConfig, cwd: string): RunPlan {
  if (!isImplementedRuntime(raw.runtime)) {
    throw new UsageError(`--runtime: unknown runtime "${raw.runtime}" (choose namespace or gvisor)`);
  }
  const requested: RequestedLimits = {
    memoryMb: parseNumber('--memory', raw.memory),
    cpuCores: parseNumber('--cpu', raw.cpu),
    pids: parseNumber('--pids', raw.pids),
    timeoutSeconds: parseNumber('--timeout', raw.timeout),
    scratchMb: parseNumber('--scratch', raw.scratch),
  };
  let limits: Limits;
  try {
    limits = resolveLimits(requested, config.defaults, config.maxima);
  } catch (err) {
    if (err instanceof LimitError) throw new UsageError(`${OPTION_OF[err.field]}: ${err.message}`);
    throw err;
  }
  const env = { ...BASE_ENV, ...parseEnv(raw.env) };
  const mounts = raw.mount.map((m) => parseMount(m, cwd));
  const workdir = checkSandboxPath('--workdir', raw.workdir);
  const network = parseNetwork(raw);
  const image = raw.image ?? config.defaultImage;
  if (!IMAGE_REF_PATTERN.test(image)) throw new UsageError(`--image: invalid image name "${image}"`);
  const secrets = parseSecrets(raw.secret ?? []);

  if (raw.language === undefined) {
    if (raw.code !== undefined) throw new UsageError('--code: requires --language');
    if (command.length === 0) throw new UsageError('no command: use `airlock run [options] -- CMD ARGS…` or --language');
    return { runtime: raw.runtime, image, limits, env, mounts, workdir, network, argv: command, json: raw.json, ...secrets };
  }
  if (!(raw.language in INTERPRETERS)) {
    throw new UsageError(`--language: unknown language "${raw.language}" (choose ${Object.keys(INTERPRETERS).join(', ')})`);
  }
  if (command.length > 0) throw new UsageError('--language: give the code with --code or on stdin, not as a command');
  const language = raw.language as Language;
  const plan: RunPlan = { runtime: raw.runtime, image, limits, env, mounts, workdir, network, argv: [...INTERPRETERS[language]], language, json: raw.json, ...secrets };
  if (raw.code !== undefined) plan.code = raw.code;
  return plan;
}

/** Mode and list shapes only; the allowlist itself is checked (with reasons) before the run. */
function parseNetwork(raw: RawRunOptions): NetworkRequest {
  if (!(NETWORK_MODES as readonly string[]).includes(raw.network)) {
    throw new UsageError(`--network: unknown mode "${raw.network}" (choose ${NETWORK_MODES.join(', ')})`);
  }
  const mode = raw.network as NetworkMode;
  if (mode !== 'restricted' && raw.allow.length > 0) throw new UsageError(`--allow: only applies to --network restricted`);
  if (mode !== 'restricted' && raw.service.length > 0) throw new UsageError(`--service: only applies to --network restricted`);
  return { mode, allowedHosts: raw.allow, services: raw.service };
}

/** `--secret` names, checked by the one secret-name rule; `{}` when there are none. */
function parseSecrets(names: string[]): { secrets?: string[] } {
  if (names.length === 0) return {};
  try {
    return { secrets: checkSecretNames(names) };
  } catch (err) {
    throw new UsageError(`--secret: ${(err as Error).message}`);
  }
}

function parseNumber(option: string, value: string | undefined): number | undefined {
  return value === undefined ? undefined : parseNumberText(option, value);
}

function parseEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq > 0 ? pair.slice(0, eq) : '';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new UsageError(`--env: expected KEY=VALUE with a valid name, got "${pair}"`);
    if (pair.includes('\0')) throw new UsageError(`--env: ${key} contains a NUL byte`);
    env[key] = pair.slice(eq + 1);
  }
  return env;
}

function parseMount(spec: string, cwd: string): GrantedMount {
  const parts = spec.split(':');
  let mode = 'ro';
  if (parts.length === 3) mode = parts.pop() as string;
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
    throw new UsageError(`--mount: expected HOST:SANDBOX[:ro|rw], got "${spec}"`);
  }
  if (mode !== 'ro' && mode !== 'rw') throw new UsageError(`--mount: mode must be ro or rw, got "${mode}"`);
  const [host, target] = parts as [string, string];
  const sandboxPath = checkSandboxPath('--mount', target);
  if (RESERVED_TARGETS.some((r) => sandboxPath === r || (r !== '/' && sandboxPath.startsWith(`${r}/`)))) {
    throw new UsageError(`--mount: ${sandboxPath} is managed by the runtime and can't be a mount target`);
  }
  return { hostPath: isAbsolute(host) ? host : resolvePath(cwd, host), sandboxPath, writable: mode === 'rw' };
}

/** The shared path rule (src/sandbox/request-rules.ts), the same the API applies. */
function checkSandboxPath(option: string, path: string): string {
  const problem = absolutePathProblem(path);
  if (problem !== undefined) throw new UsageError(`${option}: sandbox ${problem}`);
  return withoutTrailingSlashes(path);
}
