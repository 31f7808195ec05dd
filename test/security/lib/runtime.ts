/**
 * The runtimes under test: a configuration isolated from any live deployment on the same host
 * (isolated-config.ts: leftovers are this suite's alone), each runtime's availability, and a
 * helper to run one command through the real execution path.
 */
import type { Readable } from 'node:stream';
import { existsSync, readFileSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import type { AirlockConfig } from '../../../src/config/config.ts';
import { type GrantedMount, type IsolationDriver, type Limits } from '../../../src/isolation/driver.ts';
import { RefusedControlError } from '../../../src/host/control-error.ts';
import type { Image } from '../../../src/images/image.ts';
import { executeOnce, type ExecutionRequest } from '../../../src/sandbox/execute.ts';
import { NetworkManager } from '../../../src/network/manager.ts';
import type { NetworkRequest } from '../../../src/network/policy.ts';
import type { ExecutionResult } from '../../../src/sandbox/result.ts';
import { cgroupHierarchies } from './host.ts';
import { findFileServer } from '../../../src/isolation/microvm/file-server.ts';
import { BOOT_TIMEOUT_MS } from '../../../src/isolation/microvm/sandbox.ts';
import { releaseIsolatedConfig } from './isolated-config.ts';
import { stretched } from './emulation.ts';

/** The runtimes this suite covers, in order. */
export const RUNTIMES = ['namespace', 'gvisor'] as const;
/** One of {@link RUNTIMES}. */
export type TestRuntime = (typeof RUNTIMES)[number];

/**
 * The runtimes the grant files (T23–T26) cover: microvm too, whose grants are served by a file
 * server of their own (its other security files are still to come, see docs/threat-model.md).
 */
export const GRANT_RUNTIMES = [...RUNTIMES, 'microvm'] as const;
/** A runtime a file of this suite may cover. */
export type SuiteRuntime = (typeof GRANT_RUNTIMES)[number];

/** Why grants can't be tested on `runtime` here (microvm: no virtiofsd to serve them), or false. */
export function grantSkipReason(runtime: SuiteRuntime): string | false {
  if (runtime !== 'microvm' || findFileServer() !== undefined) return false;
  return 'no virtiofsd on this host to serve microvm grants (Debian 12: qemu-system-common; later: the virtiofsd package)';
}

/** Environment of every probe run: nothing else is inherited. */
export const SANDBOX_ENV: Readonly<Record<string, string>> = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/tmp', LANG: 'C.UTF-8' };

/** The isolated configuration of every real-sandbox test (see isolated-config.ts). */
export { isolatedConfig, writeConfigFile } from './isolated-config.ts';

/** A runtime that can run here, or why not. */
export type Availability =
  | { ok: true; driver: IsolationDriver; image: Image; details: Record<string, string> }
  | { ok: false; reason: string };

/** Probes the driver and resolves the default image; never throws. */
export async function availability(runtime: SuiteRuntime, config: AirlockConfig): Promise<Availability> {
  let driver: IsolationDriver;
  try {
    // Imported lazily: a driver module that fails to load makes its runtime unavailable, not the suite.
    const { createDriver } = await import('../../../src/isolation/drivers.ts');
    driver = createDriver(runtime, config);
  } catch (err) {
    return { ok: false, reason: `${runtime} unavailable: driver failed to load: ${(err as Error).message}` };
  }
  const probe = await driver.probe().catch((err: Error) => ({ available: false, reason: err.message, details: {} }));
  if (!probe.available) return { ok: false, reason: `${runtime} unavailable: ${probe.reason ?? 'probe() said no'}` };
  try {
    const { resolveImage } = await import('../../../src/images/store.ts');
    const image = await resolveImage(config, config.defaultImage);
    return { ok: true, driver, image, details: probe.details };
  } catch (err) {
    return { ok: false, reason: `${runtime} unavailable: default image "${config.defaultImage}": ${(err as Error).message}` };
  }
}

/** Limits for probe runs: the host defaults with a short timeout (longer on an emulated host). */
export function probeLimits(config: AirlockConfig, overrides: Partial<Limits> = {}): Limits {
  return { ...config.defaults, timeoutSeconds: stretched(30), ...overrides };
}

/** Options of {@link runInSandbox}. */
export interface RunOptions {
  limits?: Partial<Limits>;
  mounts?: GrantedMount[];
  image?: Image;
  stdin?: string | Readable;
  onStdout?: (chunk: Buffer) => void;
  network?: NetworkRequest;
  /** The network manager to use (one per test file; default: a fresh one for this run). */
  networks?: NetworkManager;
}

/** A run that did not settle within its watchdog. */
export const HUNG = 'hung' as const;

/** Resolves with the promise's value, or {@link HUNG} when it has not settled within `ms`. */
export async function withWatchdog<T>(promise: Promise<T>, ms: number): Promise<T | typeof HUNG> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<typeof HUNG>((resolve) => {
    timer = setTimeout(() => resolve(HUNG), ms);
  });
  try {
    return await Promise.race([promise, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs argv through executeOnce (create, run, measure, destroy), exactly as a user request does. */
export function runInSandbox(
  avail: Extract<Availability, { ok: true }>,
  config: AirlockConfig,
  argv: string[],
  options: RunOptions = {},
): Promise<ExecutionResult> {
  const request: ExecutionRequest = {
    image: options.image ?? avail.image,
    limits: probeLimits(config, options.limits),
    env: { ...SANDBOX_ENV },
    mounts: options.mounts ?? [],
    workdir: '/tmp',
    argv,
  };
  if (options.stdin !== undefined) request.stdin = options.stdin;
  if (options.onStdout !== undefined) request.onStdout = options.onStdout;
  if (options.network !== undefined) request.network = options.network;
  const network = options.networks ?? new NetworkManager({ config });
  // executeOnce must settle: a start that never returns is reported as such, not as a test timeout.
  // A microvm guest may take up to its boot timeout to come up (several cold boots at once under TCG).
  const bootMs = avail.driver.runtime === 'microvm' ? BOOT_TIMEOUT_MS.tcg : 0;
  const limitMs = request.limits.timeoutSeconds * 1000 + stretched(SETTLE_MARGIN_MS) + bootMs;
  const run = executeOnce(request, { driver: avail.driver, network, policyHash: 'sha256:security-suite' }).finally(async () => {
    if (options.networks === undefined) await network.close();
  });
  return withWatchdog(run, limitMs).then((r) => {
    if (r === HUNG) throw new Error(`executeOnce did not settle within ${limitMs / 1000} s (timeout ${request.limits.timeoutSeconds} s): the sandbox hung`);
    return r;
  });
}

/**
 * {@link runInSandbox}, or the refusal when a control refused the request before anything ran
 * (executeOnce throws it: a refused grant is no run). Any other error still rejects.
 */
export function runOrRefusal(
  avail: Extract<Availability, { ok: true }>,
  config: AirlockConfig,
  argv: string[],
  options: RunOptions = {},
): Promise<ExecutionResult | RefusedControlError> {
  return runInSandbox(avail, config, argv, options).catch((err: unknown) => {
    if (err instanceof RefusedControlError) return err;
    throw err;
  });
}

/** How long after its own timeout a run may take to be torn down and reported. */
const SETTLE_MARGIN_MS = 20_000;

/** True when something is mounted at or below `dir` in this (the host's) mount namespace. */
export function hasMountsUnder(dir: string): boolean {
  const info = readFileSync('/proc/self/mountinfo', 'utf8');
  return info.split('\n').some((line) => {
    const point = line.split(' ')[4];
    return point !== undefined && (point === dir || point.startsWith(`${dir}/`));
  });
}

/**
 * Removes the suite's own cgroups and run directory once its sandboxes are gone. Never recurses
 * into a run directory that still has something mounted below it (that would delete through the
 * mount), and never removes a cgroup that still holds a process.
 */
export function removeIsolatedState(config: AirlockConfig): string[] {
  const problems: string[] = [];
  for (const root of cgroupHierarchies()) {
    const dir = `${root}/${config.cgroupParent}`;
    if (existsSync(dir)) problems.push(...removeCgroupTree(dir));
  }
  if (existsSync(config.runDir)) {
    if (hasMountsUnder(config.runDir)) problems.push(`${config.runDir}: still has mounts below it; left in place`);
    else rmSync(config.runDir, { recursive: true, force: true });
  }
  problems.push(...releaseIsolatedConfig(config));
  return problems;
}

/** rmdir of a cgroup and its children, deepest first (cgroup directories can't be removed recursively). */
function removeCgroupTree(dir: string): string[] {
  const problems: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) problems.push(...removeCgroupTree(`${dir}/${entry.name}`));
  }
  try {
    rmdirSync(dir);
  } catch (err) {
    problems.push(`cgroup ${dir}: ${(err as Error).message}`);
  }
  return problems;
}

/** Names under a directory, or [] when it does not exist. */
export function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
