/**
 * Runs one command in a fresh sandbox and tears it down: the same orchestration for every driver.
 * Drivers allocate and measure; this module decides when to stop a sandbox and why it ended.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { GrantedMount, IsolationDriver, Limits, ProcessExit, SecretFile } from '../isolation/driver.ts';
import { Redactor } from '../secrets/redactor.ts';
import { secretBytes } from '../isolation/secret-files.ts';
import { RefusedControlError } from '../host/control-error.ts';
import type { Image } from '../images/image.ts';
import type { ExecutionResult, TerminationReason } from './result.ts';
import { OutputCollector } from './output.ts';
import { exitCodeOfSignal } from '../host/exit-status.ts';
import { networkDriftViolation, violationsFor } from './violations.ts';
import { limitReason, terminationReason } from './termination.ts';
import { averageCores } from './cpu-usage.ts';
import { NO_NETWORK, type NetworkRequest } from '../network/policy.ts';
import type { NetworkManager } from '../network/manager.ts';
import type { DriftFinding } from '../network/drift-watch.ts';
import type { StartQueue } from './start-queue.ts';
import { CANCELLED, provision, type ProvisionedSandbox } from './provision.ts';
import { Supervisor } from './supervision/supervisor.ts';
import { openDenials, type DenialReporting, type DenialSpec, type RunDenials } from './denials/run-denials.ts';

export interface ExecutionRequest {
  image: Image;
  limits: Limits;
  env: Record<string, string>;
  mounts: GrantedMount[];
  workdir: string;
  argv: string[];
  /** Network policy; `none` when absent. */
  network?: NetworkRequest;
  /** Secrets placed under /run/secrets; their values are redacted from the output and errors. */
  secrets?: readonly SecretFile[];
  /** Bytes or a stream to feed the command's stdin; stdin is /dev/null when absent. */
  stdin?: Buffer | string | Readable;
  /** Live output callbacks (streaming mode). Output is captured in the result either way. */
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** The id admission gave this run (a fresh UUID when absent). */
  executionId?: string;
  /** Cancels the run: it ends as `killed`, or is not started at all if its sandbox isn't running yet. */
  signal?: AbortSignal;
}

export interface ExecutionContext {
  driver: IsolationDriver;
  network: NetworkManager;
  policyHash: string;
  /**
   * Watches limits while the command runs (the controller's, shared by every sandbox); absent: one
   * of the run's own, closed when it ends.
   */
  supervisor?: Supervisor;
  /** Paces start-up (network attach → create → start) so that a burst never holds the event loop. */
  starts?: StartQueue;
  /**
   * Reports the seccomp denials of namespace sandboxes (absent: denials are refused, not reported),
   * the response per severity, and the revocation a `kill_and_revoke` response calls (absent: kill only).
   */
  denials?: DenialReporting;
}

/**
 * Creates, runs, measures and destroys one sandbox. Never throws for sandbox-side failures (they
 * are results, `start_failed` included); throws a RefusedControlError when a control refused the
 * request itself (a grant, a mount target, the workdir): nothing ran, so there is no result.
 */
export async function executeOnce(request: ExecutionRequest, ctx: ExecutionContext): Promise<ExecutionResult> {
  const executionId = request.executionId ?? randomUUID();
  const started = performance.now();
  const base = { executionId, started, runtime: ctx.driver.runtime, accelerator: null, policyHash: ctx.policyHash, image: request.image };
  let provisioned: ProvisionedSandbox | undefined;
  let redactor: Redactor | undefined;
  const denials = ctx.denials === undefined ? undefined : runDenials(ctx, sandboxIdOf(executionId));
  try {
    // First: a run whose secrets can't be read (so could not be redacted) never starts.
    redactor = redactorOf(request);
    const outcome = await provision(
      {
        id: sandboxIdOf(executionId), image: request.image, limits: request.limits, env: request.env, mounts: request.mounts,
        workdir: request.workdir, network: request.network ?? NO_NETWORK, argv: request.argv, stdin: request.stdin !== undefined,
        ...(request.secrets === undefined ? {} : { secrets: request.secrets }),
        ...denials?.spec,
      },
      { driver: ctx.driver, networks: ctx.network, starts: ctx.starts, signal: request.signal },
    );
    if (outcome === CANCELLED) return cancelledResult(base, abortReason(request.signal));
    provisioned = outcome;
    provisioned.endStartTurn();
    const coldStartMs = performance.now() - started;
    return await supervise(provisioned, request, ctx, { ...base, coldStartMs, accelerator: provisioned.sandbox.accelerator ?? null }, redactor, denials);
  } catch (err) {
    // Why: a refused request is the caller's error to answer as a refusal, not a failed run.
    if (err instanceof RefusedControlError) throw err;
    return failedResult(base, err, redactor);
  } finally {
    await provisioned?.teardown();
    denials?.run.release();
  }
}

interface RunInfo {
  executionId: string;
  started: number;
  runtime: ExecutionResult['runtime_used'];
  accelerator: ExecutionResult['accelerator'];
  policyHash: string;
  /** The image run: its digest and verified signer go into every result. */
  image: Image;
  coldStartMs: number;
}

async function supervise(
  provisioned: ProvisionedSandbox,
  request: ExecutionRequest,
  ctx: ExecutionContext,
  info: RunInfo,
  redactor: Redactor,
  denials?: { run: RunDenials; onKill: (kill: () => void) => void },
): Promise<ExecutionResult> {
  const { sandbox, network, process: proc } = provisioned;
  let stopReason: TerminationReason | undefined;
  let drift: DriftFinding = { verified: true, changes: [] };
  const terminate = (reason: TerminationReason) => {
    if (stopReason !== undefined) return;
    stopReason = reason;
    void sandbox.stop();
  };
  denials?.onKill(() => terminate('killed'));
  provisioned.watchNetwork((finding) => {
    drift = finding;
    terminate('network_drift');
  });
  // An abort whose reason is `revoked` or `contract_violation` says so; any other is a cancel.
  const cancel = () => terminate(abortReason(request.signal));
  request.signal?.addEventListener('abort', cancel, { once: true });
  if (request.signal?.aborted === true) cancel();
  const output = new OutputCollector(request.limits.outputBytes, () => terminate('output_limit'));
  // Why before the collector: what is captured, streamed live and counted is the redacted output.
  const redacted = { stdout: redactor.stream(), stderr: redactor.stream() };
  proc.stdout.on('data', (chunk: Buffer) => output.add('stdout', redacted.stdout.push(chunk), request.onStdout));
  proc.stderr.on('data', (chunk: Buffer) => output.add('stderr', redacted.stderr.push(chunk), request.onStderr));
  feedStdin(proc.stdin, request.stdin);

  const timeout = setTimeout(() => terminate('timeout'), request.limits.timeoutSeconds * 1000);
  const supervisor = ctx.supervisor ?? new Supervisor();
  // Limit hits stop the sandbox at once; scratch and descriptors are sampled for the final reason.
  const supervision = supervisor.supervise(sandbox, {
    sampleAll: true,
    // A run of its own (`airlock run`) is sampled only: an event helper for one run costs more than it saves.
    events: ctx.supervisor !== undefined,
    onSample: (s) => {
      const reason = limitReason(s);
      if (reason !== undefined) terminate(reason);
    },
  });
  let exit: ProcessExit;
  try {
    exit = await proc.exit;
  } finally {
    clearTimeout(timeout);
    supervision.stop();
    if (ctx.supervisor === undefined) supervisor.close();
    request.signal?.removeEventListener('abort', cancel);
  }
  // What each stream held back (a possible start of a value) is released, redacted, once it is over.
  output.add('stdout', redacted.stdout.end(), request.onStdout);
  output.add('stderr', redacted.stderr.end(), request.onStderr);
  if (exit.setupError !== undefined) {
    return failedResult(info, new Error(`${info.runtime}: the sandbox could not be set up: ${exit.setupError}`), redactor);
  }
  const finished = performance.now();
  const sample = await sandbox.stats();
  const traffic = network.traffic();
  const seccomp = (await denials?.run.collect()) ?? [];
  const reason = terminationReason(stopReason, sample, exit);
  const wallSeconds = (finished - info.started) / 1000;
  const runSeconds = Math.max((finished - info.started - info.coldStartMs) / 1000, 1e-6);
  const exitCode = exit.code ?? (exit.signal !== null ? exitCodeOfSignal(exit.signal) : null);
  return {
    execution_id: info.executionId,
    success: reason === 'completed' && exitCode === 0,
    output: output.text('stdout').replace(/\n$/, ''),
    error: output.text('stderr') || null,
    exit_code: exitCode,
    security_violations: [
      ...violationsFor(reason, exitCode, request.limits),
      ...(reason === 'network_drift' ? [networkDriftViolation(drift, network.mode)] : []),
      ...seccomp,
    ],
    execution_time_seconds: round(wallSeconds, 4),
    cold_start_time_ms: round(info.coldStartMs, 2),
    resource_usage: {
      cpu_usage_cores: round(averageCores(sample.cpuNanos, runSeconds, request.limits.cpuCores), 4),
      memory_usage_mb: round(sample.memoryPeakBytes / (1024 * 1024), 2),
      network_rx_bytes: traffic.rxBytes,
      network_tx_bytes: traffic.txBytes,
    },
    termination_reason: reason,
    runtime_used: info.runtime,
    accelerator: info.accelerator,
    policy_hash: info.policyHash,
    image_digest: info.image.digest,
    image_signer: info.image.signer ?? null,
  };
}

/**
 * A run's denials, with the response policy wired: `kill` stops the sandbox at once, and
 * `kill_and_revoke` also calls the revocation the service passed in.
 */
function runDenials(ctx: ExecutionContext, sandboxId: string): { run: RunDenials; onKill: (kill: () => void) => void; spec: DenialSpec } {
  const cfg = ctx.denials as NonNullable<ExecutionContext['denials']>;
  let kill: (() => void) | undefined;
  let pending = false;
  const { run, spec } = openDenials(cfg, ctx.driver.runtime, sandboxId, {
    ...(cfg.policy === undefined ? {} : { policy: cfg.policy }),
    onResponse: (response, what) => {
      if (response === 'kill_and_revoke') cfg.revoke?.(sandboxId, `${what} in sandbox ${sandboxId}`);
      if (kill === undefined) pending = true;
      else kill();
    },
  });
  return {
    run,
    spec,
    onKill: (k) => {
      kill = k;
      if (pending) k();
    },
  };
}

function feedStdin(stdin: NodeJS.WritableStream | null, input: ExecutionRequest['stdin']): void {
  if (stdin === null || input === undefined) return;
  // A command that exits without reading its stdin closes the pipe: that is not an error.
  (stdin as NodeJS.WritableStream & { on(e: 'error', f: () => void): void }).on('error', () => undefined);
  if (input instanceof Readable) input.pipe(stdin);
  else stdin.end(input);
}

/** The abort reason that ends a run as `revoked` (its agent was revoked). */
export const REVOKED = 'revoked';
/** The abort reason that ends a run as `contract_violation` (its egress broke its owner's contract, enforce: kill). */
export const CONTRACT_VIOLATION = 'contract_violation';

/** The termination reason of an abort: what the abort says it was for, else a plain cancel. */
function abortReason(signal: AbortSignal | undefined): 'killed' | typeof REVOKED | typeof CONTRACT_VIOLATION {
  const reason: unknown = signal?.reason;
  return reason === REVOKED || reason === CONTRACT_VIOLATION ? reason : 'killed';
}

/** The driver-side id of an execution's sandbox (cgroup, runtime state, network slot owner). */
export function sandboxIdOf(executionId: string): string {
  return `x-${executionId}`;
}

/** A run cancelled before its command started: nothing ran, so `killed` with no exit code. */
function cancelledResult(info: Omit<RunInfo, 'coldStartMs'>, reason: ReturnType<typeof abortReason>): ExecutionResult {
  return { ...failedResult(info, new Error('cancelled before the command started')), termination_reason: reason };
}

/** The redactor of a run's secrets (one that passes everything through when there are none). */
function redactorOf(request: ExecutionRequest): Redactor {
  return new Redactor((request.secrets ?? []).map((s) => ({ name: s.name, bytes: () => secretBytes(s) })));
}

function failedResult(info: Omit<RunInfo, 'coldStartMs'>, err: unknown, redactor?: Redactor): ExecutionResult {
  const message = (err as Error).message;
  return {
    execution_id: info.executionId,
    success: false,
    output: '',
    error: redactor === undefined ? message : redactor.text(message),
    exit_code: null,
    security_violations: [],
    execution_time_seconds: round((performance.now() - info.started) / 1000, 4),
    cold_start_time_ms: 0,
    resource_usage: { cpu_usage_cores: 0, memory_usage_mb: 0, network_rx_bytes: 0, network_tx_bytes: 0 },
    termination_reason: 'start_failed',
    runtime_used: info.runtime,
    accelerator: info.accelerator,
    policy_hash: info.policyHash,
    image_digest: info.image.digest,
    image_signer: info.image.signer ?? null,
  };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
