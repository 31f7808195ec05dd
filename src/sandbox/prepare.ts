/**
 * Shared request preparation for one-shot and persistent sandboxes: runtime availability, image
 * resolution, limits and language → command. Every refusal is a ServiceError naming the field.
 */
import type { AirlockConfig } from '../config/config.ts';
import type { IsolationDriver, Limits } from '../isolation/driver.ts';
import type { ImplementedRuntime } from '../isolation/drivers.ts';
import type { Image } from '../images/image.ts';
import { resolveImage, type ManifestStamps } from '../images/store.ts';
import { ImageNotFoundError } from '../images/paths.ts';
import { applyImagePolicy } from '../images/signatures/enforce.ts';
import { imagePolicyFailure } from '../images/signatures/policy.ts';
import { LimitError, resolveLimits, type RequestedLimits } from './limits.ts';
import { ServiceError } from './errors.ts';

/** Interpreters for `language`; the code goes in on stdin so its size isn't bounded by argv. */
export const INTERPRETERS = {
  python: ['python3', '-'],
  javascript: ['node', '-'],
  bash: ['bash', '-s'],
} as const satisfies Record<string, readonly string[]>;
export type Language = keyof typeof INTERPRETERS;

/** argv of a shell command line: the image's POSIX shell runs it, as `docker run IMAGE sh -c` would. */
export function shellArgv(commandLine: string): string[] {
  return ['sh', '-c', commandLine];
}

/** The environment every sandboxed command starts from; requests add to it. Nothing is inherited. */
export const BASE_ENV: Readonly<Record<string, string>> = Object.freeze({
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/tmp',
  LANG: 'C.UTF-8',
});

/** Wire names of the limit fields, for error messages that name what the caller sent. */
export const LIMIT_FIELD_NAMES: Record<keyof Limits, string> = {
  memoryMb: 'memory_limit_mb',
  cpuCores: 'cpu_limit',
  pids: 'pids_limit',
  timeoutSeconds: 'timeout_seconds',
  scratchMb: 'scratch_mb',
  outputBytes: 'output_limit_bytes',
  openFiles: 'open_files_limit',
};

/** Limits with defaults, refusing (never clamping) out-of-range values. */
export function limitsFor(config: AirlockConfig, requested: RequestedLimits): Limits {
  try {
    return resolveLimits(requested, config.defaults, config.maxima);
  } catch (err) {
    if (err instanceof LimitError) throw new ServiceError('invalid_request', `${LIMIT_FIELD_NAMES[err.field]}: ${err.message}`);
    throw err;
  }
}

/** The driver for a runtime, or `runtime_unavailable` with the probe's reason. */
export function driverFor(drivers: ReadonlyMap<ImplementedRuntime, IsolationDriver>, unavailable: ReadonlyMap<string, string>, runtime: ImplementedRuntime): IsolationDriver {
  const reason = unavailable.get(runtime);
  if (reason !== undefined) throw new ServiceError('runtime_unavailable', `runtime ${runtime} is not available on this host: ${reason}`);
  const driver = drivers.get(runtime);
  if (driver === undefined) throw new ServiceError('runtime_unavailable', `runtime ${runtime} is not available on this host`);
  return driver;
}

/**
 * Resolves an image (unless `pinned`, the request's own resolution of it, is given) and applies the
 * image policy to it (the digest checked is the digest that runs), mapping "not found" and a policy
 * refusal to request errors.
 */
export async function imageFor(config: AirlockConfig, name: string | undefined, seen?: ManifestStamps, pinned?: Image): Promise<Image> {
  let image: Image;
  try {
    image = pinned ?? (await resolveImage(config, name ?? config.defaultImage, seen));
  } catch (err) {
    if (err instanceof ImageNotFoundError) throw new ServiceError('image_not_found', err.message);
    throw err;
  }
  try {
    return await applyImagePolicy(config, image);
  } catch (err) {
    throw new ServiceError('image_refused', imagePolicyFailure(err));
  }
}

/** argv and stdin for either a command (with its own input, if any) or code in a language (fed on stdin). */
export function commandFor(input: { command?: string[] | undefined; code?: string | undefined; language?: Language | undefined; stdin?: Buffer | undefined }): { argv: string[]; stdin?: string | Buffer } {
  if (input.command !== undefined && input.code !== undefined) {
    throw new ServiceError('invalid_request', 'give either command or code, not both');
  }
  if (input.command !== undefined) {
    if (input.command.length === 0) throw new ServiceError('invalid_request', 'command: must not be empty');
    return input.stdin === undefined ? { argv: input.command } : { argv: input.command, stdin: input.stdin };
  }
  if (input.stdin !== undefined) throw new ServiceError('invalid_request', 'stdin: code is fed to its interpreter on stdin; give stdin with command only');
  if (input.code === undefined) throw new ServiceError('invalid_request', 'code or command is required');
  return { argv: [...INTERPRETERS[input.language ?? 'python']], stdin: input.code };
}
