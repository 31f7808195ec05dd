/**
 * The execution result and security-violation shapes of the public contract (snake_case, as the
 * seed sandbox controller's API defines them). Every field is always present.
 */
import type { Accelerator, RuntimeName } from '../isolation/driver.ts';

/** Why a sandbox ended. Each limit has its own reason: no limit hit is ever a silent failure. */
export const TERMINATION_REASONS = [
  'completed',
  'timeout',
  'memory_limit',
  'pids_limit',
  'output_limit',
  'scratch_limit',
  'open_files_limit',
  'killed',
  'network_drift',
  'start_failed',
  'revoked',
  'contract_violation',
] as const;
export type TerminationReason = (typeof TERMINATION_REASONS)[number];

export type DetectionLayer = 'SECCOMP' | 'NETWORK' | 'FILESYSTEM' | 'RESOURCE' | 'POLICY' | 'MCP';
export type Severity = 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';

export interface SecurityViolation {
  violation_id: string;
  timestamp: string;
  violation_type: string;
  severity: Severity;
  description: string;
  detection_layer: DetectionLayer;
  blocked: boolean;
  indicators: Record<string, unknown>;
  remediation: string;
}

export interface ResourceUsage {
  /** Average cores the command used over its run: its CPU time (runtime start-up excluded) / its wall time, never above the CPU limit or the host's cores. */
  cpu_usage_cores: number;
  /** Peak memory of the sandbox cgroup, MiB. */
  memory_usage_mb: number;
  network_rx_bytes: number;
  network_tx_bytes: number;
}

export interface ExecutionResult {
  execution_id: string;
  success: boolean;
  /** Captured stdout, without its final newline. */
  output: string;
  /** Captured stderr, or the reason the sandbox could not start; null when empty. */
  error: string | null;
  exit_code: number | null;
  security_violations: SecurityViolation[];
  execution_time_seconds: number;
  cold_start_time_ms: number;
  resource_usage: ResourceUsage;
  termination_reason: TerminationReason;
  runtime_used: RuntimeName;
  /** What ran the guest of a microvm sandbox (`tcg`: emulated, no KVM); null when no VM ran. */
  accelerator: Accelerator | null;
  policy_hash: string;
  /** `sha256:` digest of the stored image the command ran in (over its verified manifest). */
  image_digest: string;
  /** Id of the trusted key (imagePolicy) whose signature over the image verified; null when none did. */
  image_signer: string | null;
}
