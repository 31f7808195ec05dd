/**
 * The sandbox service as its front ends (HTTP API, CLI, tests) see it. Field names of the
 * data shapes are snake_case because they are the wire contract; method names are camelCase.
 */
import type { ImplementedRuntime } from '../isolation/drivers.ts';
import type { Accelerator, ForensicAccess, GrantedMount, RuntimeName } from '../isolation/driver.ts';
import type { RequestedLimits } from './limits.ts';
import type { ExecutionResult, SecurityViolation } from './result.ts';
import type { NetworkRequest } from '../network/policy.ts';
import type { SandboxSpec } from '../policy/request.ts';
import type { EgressDecision } from '../network/proxy/index.ts';
import type { ImageRunConfig } from '../images/oci/types.ts';
import type { Image } from '../images/image.ts';

/** A one-shot execution (seed `POST /api/v1/sandbox/execute`), already validated. */
export interface OneShotRequest {
  agentId: string;
  runtime: ImplementedRuntime;
  image?: string;
  /** Either code for `language`, or a command (argv). */
  code?: string;
  language?: 'python' | 'javascript' | 'bash';
  command?: string[];
  limits: RequestedLimits;
  env: Record<string, string>;
  mounts: GrantedMount[];
  /** Working directory inside the sandbox (absolute, already checked); default /tmp. */
  workdir?: string;
  /** Input for `command` (code is fed on stdin itself); stdin is /dev/null when absent. */
  stdin?: Buffer;
  /** Default: none. */
  network?: NetworkRequest;
  /** When set, refuse unless the active policy hash equals it. */
  expectedPolicyHash?: string;
  /** Names of the secrets it is given (admitted: policy allowed each one). */
  secrets?: string[];
  /** The image as the request resolved it (`pinImage`): it runs, whatever `image` tags by now. */
  pinnedImage?: Image | undefined;
  /** Each chunk of (redacted) output as it comes, for a caller that streams it; the result still collects it. */
  onStdout?: ((chunk: Buffer) => void) | undefined;
  onStderr?: ((chunk: Buffer) => void) | undefined;
}

/**
 * An admitted one-shot execution: its id exists from admission on (listed by `status()`,
 * cancellable by `cancelExecution(id)`), before its sandbox does.
 */
export interface OneShotExecution {
  readonly executionId: string;
  /** Ends the run as `killed` (or, before its sandbox started, without starting it); idempotent. */
  cancel(): void;
  /** The execution result; a refused control (a grant, the workdir) rejects with its ServiceError. */
  readonly result: Promise<ExecutionResult>;
}

/** A one-shot execution after `cancelExecution`: ended and torn down. */
export interface CancelledExecution {
  execution_id: string;
  agent_id: string;
  runtime: RuntimeName;
  termination_reason: ExecutionResult['termination_reason'];
}

export interface CreateSandboxOptions {
  runtime: ImplementedRuntime;
  image?: string;
  limits: RequestedLimits;
  /** Hard deadline from creation (or the last timeout change): the reaper ends the sandbox then, busy or not. */
  ttlSeconds?: number;
  /** Ends the sandbox after this long without an exec or file operation (none: only the TTL applies). */
  idleTimeoutSeconds?: number;
  metadata: Record<string, string>;
  env: Record<string, string>;
  mounts: GrantedMount[];
  /** Default: none. */
  network?: NetworkRequest;
  agentId?: string;
  /** Names of the secrets it is given (admitted: policy allowed each one). */
  secrets?: string[];
  /** The image as the request resolved it (`pinImage`): it runs, whatever `image` tags by now. */
  pinnedImage?: Image | undefined;
}

/** The network of a persistent sandbox, with its recent egress decisions. */
export interface SandboxNetworkInfo {
  network_policy: NetworkRequest['mode'];
  allowed_hosts: string[];
  services: string[];
  network_rx_bytes: number;
  network_tx_bytes: number;
  /** Most recent decisions of its egress proxy (restricted), oldest first. */
  decisions: EgressDecision[];
  /** Allowlist changes made while it ran. */
  allowlist_changes: { at: string; allowed_hosts: string[] }[];
}

export type SandboxState = 'running' | 'ended';

/** Why a persistent sandbox ended. */
export type EndReason = 'killed' | 'ttl_expired' | 'idle_timeout' | 'memory_limit' | 'pids_limit' | 'agent_exited' | 'shutdown' | 'recovered_after_crash' | 'network_drift' | 'error' | 'revoked' | 'contract_violation';

export interface SandboxInfo {
  sandbox_id: string;
  /** Tenancy id of the principal that created it. */
  owner: string;
  runtime: RuntimeName;
  /** What runs the guest of a microvm sandbox; null when it runs no VM. */
  accelerator: Accelerator | null;
  image: string;
  image_digest: string;
  /** Id of the trusted key (imagePolicy) whose signature over the image verified; null when none did. */
  image_signer: string | null;
  state: SandboxState;
  created_at: string;
  /** When the TTL reaper will end it unless extended. */
  expires_at: string;
  /** Its idle timeout in seconds; null: none (only the TTL ends it). */
  idle_timeout_seconds: number | null;
  metadata: Record<string, string>;
  limits: {
    memory_limit_mb: number;
    cpu_limit: number;
    pids_limit: number;
    scratch_mb: number;
    timeout_seconds: number;
  };
  /** Whether it came from a warm pool. */
  pooled: boolean;
  network_policy: NetworkRequest['mode'];
  allowed_hosts: string[];
  /** Names of the secrets it was given (never values); absent when none. */
  secrets?: string[];
  /** Violations recorded while it ran (a network drift, say). */
  security_violations: SecurityViolation[];
  end_reason: EndReason | null;
  ended_at: string | null;
}

export interface ExecOptions {
  /** Command and arguments; or use `code` + `language`. */
  argv?: string[];
  code?: string;
  language?: 'python' | 'javascript' | 'bash';
  env: Record<string, string>;
  cwd?: string;
  /** Whether the caller will send stdin (otherwise stdin is empty). */
  stdin: boolean;
  /** Per-exec wall-clock limit. */
  timeoutMs: number;
}

export type ExecEndReason = 'completed' | 'timeout' | 'killed' | 'sandbox_ended' | 'output_limit';

export interface ExecResult {
  exit_code: number | null;
  signal: string | null;
  termination_reason: ExecEndReason;
  duration_ms: number;
}

/** A running command in a persistent sandbox. Output callbacks fire as bytes arrive. */
export interface ExecSession {
  readonly execId: string;
  onStdout(listener: (chunk: Buffer) => void): void;
  onStderr(listener: (chunk: Buffer) => void): void;
  writeStdin(data: Buffer | string): void;
  closeStdin(): void;
  kill(): void;
  /** Resolves once the command has ended and all its output was delivered. */
  readonly result: Promise<ExecResult>;
}

/** A command running in a persistent sandbox, as `listExecs` shows it. */
export interface RunningExec {
  exec_id: string;
  /** Its argv (secret values redacted); for `code`, just the language. */
  command: string[];
  cwd: string;
  started_at: string;
}

export interface FileEntry {
  name: string;
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  mode: number;
  modified_at: string;
}

export interface ServiceStatus {
  /** Running one-shots (`kind: execution`, by execution id) and persistent sandboxes (`kind: sandbox`, by sandbox id). */
  active_sandboxes: Array<{ execution_id: string; agent_id: string; runtime: RuntimeName; uptime_seconds: number; pod_name: string; kind: 'execution' | 'sandbox' }>;
  total_count: number;
}

export interface HealthReport {
  status: 'healthy' | 'degraded';
  service: string;
  version: string;
  policy_hash: string;
  runtimes_available: RuntimeName[];
  active_sandboxes: number;
}

/** Observer hooks for metrics and logs; every method optional. */
export interface ServiceObserver {
  executionFinished?(result: ExecutionResult): void;
  /** A one-shot is registered (listed, cancellable): after its admission, before its sandbox starts. */
  executionStarted?(execution: { executionId: string; agentId: string }): void;
  sandboxCreated?(info: SandboxInfo, coldStartMs: number): void;
  sandboxEnded?(info: SandboxInfo): void;
  capacityRefused?(): void;
  poolChanged?(key: string, ready: number): void;
  poolCheckout?(key: string, hit: boolean): void;
  egressDecision?(decision: EgressDecision): void;
  allowlistChanged?(sandboxId: string, allowedHosts: string[]): void;
  violationRecorded?(violation: SecurityViolation): void;
  /** A sandbox's limits are sampled because an event source is missing or failed (each reason once). */
  supervisionFallback?(sandboxId: string, reason: string): void;
}

/** What policy decides an action on a sandbox with: its owner and what it was created with. */
export interface SandboxOwnership {
  owner: string;
  spec: SandboxSpec;
}

/** What the API layer needs from the service. */
export interface SandboxServiceApi {
  /** Admits and runs a one-shot; resolves with its result. */
  execute(request: OneShotRequest): Promise<ExecutionResult>;
  /** Admits a one-shot (every refusal of admission throws here) and starts it; the handle has its id at once. */
  startExecution(request: OneShotRequest): Promise<OneShotExecution>;
  /**
   * Cancels a running one-shot and resolves once it has ended and been torn down. Unknown id:
   * `execution_not_found`; one that has already ended (remembered for a while): `execution_not_running`.
   */
  cancelExecution(executionId: string): Promise<CancelledExecution>;
  create(options: CreateSandboxOptions): Promise<SandboxInfo>;
  list(): SandboxInfo[];
  get(id: string): SandboxInfo;
  /** Owner and spec of a sandbox (ended ones included, while remembered); `sandbox_not_found` otherwise. */
  ownership(id: string): SandboxOwnership;
  /** The host-side view of a sandbox for a forensic capture; undefined when its driver has none. */
  forensicAccess?(id: string): ForensicAccess | undefined;
  kill(id: string): Promise<SandboxInfo>;
  /**
   * Records a violation found outside the sandbox (a refused request about it) on a running
   * sandbox, and reports it; an ended or unknown one is left alone.
   */
  recordViolation(id: string, violation: SecurityViolation): void;
  /** Ends every live sandbox and one-shot `agentId` owns, as `revoked`; resolves once all are torn down. */
  endAgent(agentId: string): Promise<{ sandboxes: string[]; executions: string[] }>;
  setTimeout(id: string, ttlSeconds: number): SandboxInfo;
  exec(id: string, options: ExecOptions): Promise<ExecSession>;
  /** The commands running in sandbox `id` now, oldest first. */
  listExecs(id: string): RunningExec[];
  /** Kills command `execId` of sandbox `id` (it ends `killed`); `execution_not_found` when none of that id runs. */
  killExec(id: string, execId: string): void;
  readFile(id: string, path: string): Promise<Buffer>;
  writeFile(id: string, path: string, data: Buffer, mode?: number): Promise<void>;
  listFiles(id: string, path: string): Promise<FileEntry[]>;
  network(id: string): SandboxNetworkInfo;
  /** Replaces a running restricted sandbox's allowlist (validated; recorded). */
  setAllowlist(id: string, allowedHosts: string[]): Promise<SandboxNetworkInfo>;
  status(): ServiceStatus;
  /**
   * What image `name` (default: the configured one) resolves to now, for a request to carry through
   * its image's defaults, admission and start, so all three see one digest; undefined when it can't
   * be resolved here (the start then names why).
   */
  pinImage(name: string | undefined): Promise<Image | undefined>;
  /** The run configuration of an image (a name, default the configured one; or as pinned); null for a built image or one that can't be resolved. */
  imageRunConfig(image: string | Image | undefined): Promise<ImageRunConfig | null>;
  health(): Promise<HealthReport>;
  readonly policyHash: string;
  shutdown(): Promise<void>;
}
