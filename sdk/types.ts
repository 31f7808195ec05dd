/**
 * Wire types of the airlock HTTP API, written out here so the SDK stands alone (it is published
 * without the server). `wire-types.test.ts` proves at compile time that each one matches the zod
 * schema the server validates with: same fields, and every server answer fits the SDK's type.
 */

/** Isolation runtimes a server can report. */
export type RuntimeName = 'namespace' | 'gvisor' | 'microvm' | 'wasm' | 'kubernetes';
/** Runtimes a sandbox can be asked for (the server also takes `firecracker` for `microvm`). */
export type RequestRuntime = 'namespace' | 'gvisor' | 'microvm';
/** What runs a VM's guest: `kvm`, or `tcg` (QEMU emulating the CPU, no KVM). */
export type Accelerator = 'kvm' | 'tcg';
/** Languages `code` can be written in. */
export type LanguageName = 'python' | 'javascript' | 'bash';
/** Network access of a sandbox: `none` (default), `restricted` (egress proxy + allowlist) or `full`. */
export type NetworkPolicy = 'none' | 'restricted' | 'full';
/** Why a one-shot run ended; every limit has its own reason. */
export type TerminationReason =
  | 'completed'
  | 'timeout'
  | 'memory_limit'
  | 'pids_limit'
  | 'output_limit'
  | 'scratch_limit'
  | 'open_files_limit'
  | 'killed'
  | 'network_drift'
  | 'start_failed'
  | 'revoked'
  | 'contract_violation';

/** A host path granted to the sandbox: a bare path (read-only, same path inside) or an object. */
export type FilesystemGrant = string | { host_path: string; sandbox_path?: string | undefined; mode?: 'ro' | 'rw' | undefined };

/** `{"error": {"code", "message", "request_id"}}`: the body of every 4xx/5xx answer. */
export interface ErrorEnvelope {
  error: { code: string; message: string; request_id: string; details?: Array<{ path: string; message: string }> | undefined };
}

/** A signed tree head of the audit log. */
export interface TreeHead {
  tree_size: number;
  root_hash: string;
  timestamp: string;
  key_id: string;
  signature: string;
}

/** One audit record. */
export interface AuditRecord {
  v: 1;
  index: number;
  time: string;
  prev: string | null;
  kind: string;
  agent_id: string | null;
  sandbox_id: string | null;
  actor: { name: string; role: string; agent_id: string } | null;
  data: Record<string, unknown>;
}

/** A record, its inclusion proof and a signed head that includes it (`airlock receipt verify`). */
export interface AuditReceipt {
  type: 'airlock-audit-receipt/v1';
  record: AuditRecord;
  leaf_hash: string;
  inclusion_proof: string[];
  tree_head: TreeHead;
}

/** Body of `POST /api/v1/sandbox/execute` (one command or snippet in a fresh, throw-away sandbox). */
export interface ExecuteRequest {
  /** Default: the caller's own agent id. */
  agent_id?: string | undefined;
  code?: string | undefined;
  command?: string[] | string | undefined;
  language?: LanguageName | undefined;
  runtime?: RequestRuntime | undefined;
  image?: string | undefined;
  workdir?: string | undefined;
  stdin?: string | undefined;
  stdin_encoding?: 'utf8' | 'base64' | undefined;
  timeout_seconds?: number | undefined;
  memory_limit_mb?: number | undefined;
  cpu_limit?: number | undefined;
  pids_limit?: number | undefined;
  scratch_mb?: number | undefined;
  network_policy?: NetworkPolicy | undefined;
  allowed_hosts?: string[] | undefined;
  services?: string[] | undefined;
  filesystem_access?: FilesystemGrant[] | undefined;
  environment?: Record<string, string> | undefined;
  secrets?: string[] | undefined;
  expected_policy_hash?: string | undefined;
}

/** A security violation reported with an execution result. */
export interface SecurityViolation {
  violation_id: string;
  timestamp: string;
  violation_type: string;
  severity: 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';
  description: string;
  detection_layer: 'SECCOMP' | 'NETWORK' | 'FILESYSTEM' | 'RESOURCE' | 'POLICY' | 'MCP';
  blocked: boolean;
  indicators: Record<string, unknown>;
  remediation: string;
}

/** Result of a one-shot execution; a failed command is a result with `success: false`, not an error. */
export interface ExecuteResponse {
  execution_id: string;
  success: boolean;
  output: string;
  error: string | null;
  exit_code: number | null;
  security_violations: SecurityViolation[];
  execution_time_seconds: number;
  cold_start_time_ms: number;
  resource_usage: { cpu_usage_cores: number; memory_usage_mb: number; network_rx_bytes: number; network_tx_bytes: number };
  termination_reason: TerminationReason;
  runtime_used: RuntimeName;
  /** What ran the guest of a microvm sandbox (`tcg`: emulated, no KVM: much slower); null when no VM ran. */
  accelerator: Accelerator | null;
  policy_hash: string;
  /** sha256 digest of the stored image the command ran in (over its verified manifest). */
  image_digest: string;
  /** Id of the trusted key whose signature over the image verified; null when none did. */
  image_signer: string | null;
  receipt?: AuditReceipt | null | undefined;
  constitutional_hash_verified: boolean | null;
}

/** `DELETE /api/v1/sandbox/executions/{id}`: a cancelled one-shot, ended and torn down. */
export interface CancelledExecution {
  execution_id: string;
  agent_id: string;
  runtime: RuntimeName;
  termination_reason: TerminationReason;
}

/** `GET /health`. */
export interface HealthResponse {
  status: 'healthy' | 'degraded';
  service: string;
  version: string;
  policy_hash: string;
  constitutional_hash: string;
  runtimes_available: RuntimeName[];
  active_sandboxes: number;
  authentication: { unix_socket: boolean; signed_requests: boolean; unsigned_loopback: boolean };
  audit?: { writable: boolean; reason: string | null; since: string | null; tree_size: number | null } | undefined;
}

/** `GET /api/v1/sandbox/status`. */
export interface StatusResponse {
  active_sandboxes: Array<{ execution_id: string; agent_id: string; runtime: RuntimeName; uptime_seconds: number; pod_name: string; kind: 'execution' | 'sandbox' }>;
  total_count: number;
  policy_hash: string;
  constitutional_hash_verified: null;
}

/** Limits of a new sandbox; each is checked against the server's maximum, never clamped. */
export interface SandboxLimitsRequest {
  memory_limit_mb?: number | undefined;
  cpu_limit?: number | undefined;
  pids_limit?: number | undefined;
  scratch_mb?: number | undefined;
  timeout_seconds?: number | undefined;
}

/** Body of `POST /api/v1/sandboxes`. */
export interface CreateSandboxRequest {
  runtime?: RequestRuntime | undefined;
  image?: string | undefined;
  limits?: SandboxLimitsRequest | undefined;
  ttl_seconds?: number | undefined;
  /** Ends the sandbox (`idle_timeout`) after this many seconds without an exec or file operation. */
  idle_timeout_seconds?: number | undefined;
  metadata?: Record<string, string> | undefined;
  environment?: Record<string, string> | undefined;
  secrets?: string[] | undefined;
  filesystem_access?: FilesystemGrant[] | undefined;
  network_policy?: NetworkPolicy | undefined;
  allowed_hosts?: string[] | undefined;
  services?: string[] | undefined;
  agent_id?: string | undefined;
  expected_policy_hash?: string | undefined;
}

/** Why a persistent sandbox ended. */
export type SandboxEndReason =
  | 'killed'
  | 'ttl_expired'
  | 'idle_timeout'
  | 'memory_limit'
  | 'pids_limit'
  | 'agent_exited'
  | 'shutdown'
  | 'recovered_after_crash'
  | 'network_drift'
  | 'error'
  | 'revoked'
  | 'contract_violation';

/** A persistent sandbox as the server describes it. */
export interface SandboxInfo {
  sandbox_id: string;
  owner: string;
  runtime: RuntimeName;
  /** What runs its guest when it is a microvm sandbox; null when it runs no VM. */
  accelerator: Accelerator | null;
  image: string;
  image_digest: string;
  /** Id of the trusted key whose signature over the image verified; null when none did. */
  image_signer: string | null;
  state: 'running' | 'ended';
  created_at: string;
  expires_at: string;
  idle_timeout_seconds: number | null;
  metadata: Record<string, string>;
  limits: { memory_limit_mb: number; cpu_limit: number; pids_limit: number; scratch_mb: number; timeout_seconds: number };
  pooled: boolean;
  network_policy: NetworkPolicy;
  allowed_hosts: string[];
  secrets?: string[] | undefined;
  security_violations: SecurityViolation[];
  end_reason: SandboxEndReason | null;
  ended_at: string | null;
  /** Get and delete: once ended, the receipt of its final audit record (null if it could not be written). */
  receipt?: AuditReceipt | null | undefined;
}

/** One decision of a sandbox's egress proxy (allowed or refused, with the reason). */
export interface EgressDecision {
  sandboxId: string;
  time: string;
  kind: 'http' | 'connect' | 'service';
  host: string;
  port: number;
  allowed: boolean;
  reason: string;
  method?: string | undefined;
  path?: string | undefined;
  address?: string | undefined;
  brokered?: string[] | undefined;
}

/** `GET /api/v1/sandboxes/{id}/network` (and the answer of `PUT`): policy, allowlist, services, traffic, recent egress decisions. */
export interface SandboxNetworkInfo {
  network_policy: NetworkPolicy;
  allowed_hosts: string[];
  services: string[];
  network_rx_bytes: number;
  network_tx_bytes: number;
  decisions: EgressDecision[];
  allowlist_changes: Array<{ at: string; allowed_hosts: string[] }>;
}

/** Body of `PUT /api/v1/sandboxes/{id}/network`. */
export interface SetAllowlistRequest {
  allowed_hosts: string[];
}

/** `GET /api/v1/sandboxes`. */
export interface SandboxList {
  sandboxes: SandboxInfo[];
  total_count: number;
}

/** Body of `POST /api/v1/sandboxes/{id}/exec`. */
export interface ExecRequest {
  command?: string[] | undefined;
  code?: string | undefined;
  language?: LanguageName | undefined;
  environment?: Record<string, string> | undefined;
  cwd?: string | undefined;
  stdin?: string | undefined;
  stdin_encoding?: 'utf8' | 'base64' | undefined;
  timeout_seconds?: number | undefined;
}

/** Why an exec ended. */
export type ExecEndReason = 'completed' | 'timeout' | 'killed' | 'sandbox_ended' | 'output_limit';

/** A stdout/stderr chunk of an exec stream. */
export interface ExecOutputFrame {
  type: 'stdout' | 'stderr';
  data: string;
  encoding: 'utf8' | 'base64';
}

/** The last frame of a successful exec stream. */
export interface ExecExitFrame {
  type: 'exit';
  exit_code: number | null;
  signal: string | null;
  termination_reason: ExecEndReason;
  duration_ms: number;
  receipt?: AuditReceipt | null | undefined;
}

/** Sent instead of the exit frame when the exec failed after streaming began. */
export interface ExecErrorFrame {
  type: 'error';
  error: { code: string; message: string; request_id: string };
}

/** One NDJSON line of an exec stream. */
export type ExecFrame = ExecOutputFrame | ExecExitFrame | ExecErrorFrame;

/** The last frame of a streamed one-shot (`executeStream`): its execution result. */
export interface ExecuteResultFrame extends ExecuteResponse {
  type: 'result';
}

/** One NDJSON line of a streamed one-shot. */
export type ExecuteFrame = ExecOutputFrame | ExecuteResultFrame | ExecErrorFrame;

/** `POST /api/v1/sandboxes/{id}/exec?stream=false`: output collected into one body. */
export interface ExecCollectedResponse {
  exec_id: string;
  stdout: string;
  stderr: string;
  stdout_encoding: 'utf8' | 'base64';
  stderr_encoding: 'utf8' | 'base64';
  stdout_truncated: boolean;
  stderr_truncated: boolean;
  exit_code: number | null;
  signal: string | null;
  termination_reason: ExecEndReason;
  duration_ms: number;
  receipt?: AuditReceipt | null | undefined;
}

/** A command running in a persistent sandbox. */
export interface RunningExec {
  /** The exec id (`x-airlock-exec-id`; a handle's `pid`). */
  exec_id: string;
  /** Its argv (secret values redacted); for `code`, just the language. */
  command: string[];
  cwd: string;
  started_at: string;
}

/** `GET /api/v1/sandboxes/{id}/execs`. */
export interface ExecList {
  execs: RunningExec[];
}

/** One entry of a directory listing. */
export interface FileEntry {
  name: string;
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  mode: number;
  modified_at: string;
}

/** `GET /api/v1/sandboxes/{id}/files/list`. */
export interface FileListResponse {
  path: string;
  entries: FileEntry[];
}

/** `PUT /api/v1/sandboxes/{id}/files`. */
export interface FileWriteResponse {
  path: string;
  size: number;
}
