/**
 * Parses and validates `airlock run` options into an execution plan. Pure: every refusal is a
 * UsageError that names the option, and nothing is clamped silently.
 */
import type { AirlockConfig } from '../config/config.ts';
import type { GrantedMount, Limits } from '../isolation/driver.ts';
import type { ImplementedRuntime } from '../isolation/runtimes.ts';
import { LimitError, resolveLimits, type RequestedLimits } from '../sandbox/limits.ts';
import { UsageError } from './usage-error.ts';
import { checkCodeOptions } from './run-code.ts';
import { parseNumberText } from './sandbox-options.ts';
import { parseEnv, parseImage, parseMount, parseNetwork, parseRuntime, parseSecrets, sandboxPathOption } from './sandbox-spec-options.ts';

import { BASE_ENV, INTERPRETERS, type Language } from '../sandbox/prepare.ts';
import type { NetworkRequest } from '../network/policy.ts';

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

/** Validates options and returns the plan. `cwd` resolves relative host paths. */
export function parseRunOptions(raw: RawRunOptions, command: string[], config: AirlockConfig, cwd: string): RunPlan {
  const runtime = parseRuntime(raw.runtime);
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
  const workdir = sandboxPathOption('--workdir', raw.workdir);
  const network: NetworkRequest = parseNetwork(raw.network, raw.allow, raw.service);
  const image = parseImage(raw.image ?? config.defaultImage);
  const secrets: { secrets?: string[] } = (raw.secret ?? []).length === 0 ? {} : { secrets: parseSecrets(raw.secret ?? []) };

  if (raw.language !== undefined && !(raw.language in INTERPRETERS)) {
    throw new UsageError(`--language: unknown language "${raw.language}" (choose ${Object.keys(INTERPRETERS).join(', ')})`);
  }
  checkCodeOptions(raw, command);
  if (raw.language === undefined) {
    if (command.length === 0) throw new UsageError('no command: use `airlock run [options] -- CMD ARGS…` or --language');
    return { runtime, image, limits, env, mounts, workdir, network, argv: command, json: raw.json, ...secrets };
  }
  const language = raw.language as Language;
  const plan: RunPlan = { runtime, image, limits, env, mounts, workdir, network, argv: [...INTERPRETERS[language]], language, json: raw.json, ...secrets };
  if (raw.code !== undefined) plan.code = raw.code;
  return plan;
}

function parseNumber(option: string, value: string | undefined): number | undefined {
  return value === undefined ? undefined : parseNumberText(option, value);
}
