/**
 * Wire schemas of persistent sandboxes (`/api/v1/sandboxes`): create, info, exec, files.
 * Same rules as `schemas.ts`: strict request objects, types inferred, OpenAPI generated from these.
 */
import { z } from 'zod';
import { AuditReceipt } from './schemas-audit.ts';
import type { FileEntry as ServiceFileEntry, SandboxInfo as ServiceSandboxInfo, SandboxNetworkInfo as ServiceSandboxNetworkInfo } from '../sandbox/service-types.ts';
import {
  AgentId,
  AllowedHosts,
  SecurityViolation,
  ServiceNames,
  Argv,
  CpuLimit,
  Environment,
  SecretNames,
  FilesystemAccess,
  ImageField,
  AcceleratorField,
  ImageSignerField,
  Language,
  MAX_PATH_LENGTH,
  MemoryLimitMb,
  NetworkPolicy,
  PidsLimit,
  PolicyHashField,
  RuntimeField,
  RuntimeName,
  SANDBOX_ID_PATTERN,
  ScratchMb,
  Stdin,
  StdinEncoding,
  ExecuteResponse,
  TimeoutSeconds,
} from './schemas.ts';

/** Longest idle lifetime a sandbox can be given or extended to (24 h). */
export const MAX_TTL_SECONDS = 86_400;

export const TtlSeconds = z
  .number()
  .int()
  .positive()
  .max(MAX_TTL_SECONDS)
  .describe(`Lifetime in seconds (1-${MAX_TTL_SECONDS}), a hard deadline: the sandbox ends when it passes, busy or not (extend it with POST …/timeout).`);

export const IdleTimeoutSeconds = z
  .number()
  .int()
  .positive()
  .max(MAX_TTL_SECONDS)
  .describe(`Idle timeout in seconds (1-${MAX_TTL_SECONDS}): the sandbox ends (idle_timeout) after this long with no exec running and no exec or file operation; any of them starts it again.`);

export const SandboxLimitsRequest = z
  .object({
    memory_limit_mb: MemoryLimitMb.optional(),
    cpu_limit: CpuLimit.optional(),
    pids_limit: PidsLimit.optional(),
    scratch_mb: ScratchMb.optional(),
    timeout_seconds: TimeoutSeconds.optional().describe('Default per-exec wall-clock limit in seconds.'),
  })
  .strict();

export const Metadata = z
  .record(z.string().regex(/^[A-Za-z0-9_.:/-]{1,64}$/, 'invalid metadata key'), z.string().max(512))
  .refine((m) => Object.keys(m).length <= 32, 'at most 32 metadata entries')
  .describe('Free-form labels returned with the sandbox.');

export const CreateSandboxRequest = z
  .object({
    runtime: RuntimeField.optional(),
    image: ImageField.optional(),
    limits: SandboxLimitsRequest.optional(),
    ttl_seconds: TtlSeconds.optional(),
    idle_timeout_seconds: IdleTimeoutSeconds.optional(),
    metadata: Metadata.optional(),
    environment: Environment.optional(),
    secrets: SecretNames.optional(),
    filesystem_access: FilesystemAccess.optional(),
    network_policy: NetworkPolicy.optional(),
    allowed_hosts: AllowedHosts.optional(),
    services: ServiceNames.optional(),
    agent_id: AgentId.optional(),
    expected_policy_hash: PolicyHashField.optional(),
  })
  .strict()
  .describe('A sandbox that stays up for several execs until deleted or its TTL passes.');
export type CreateSandboxRequest = z.infer<typeof CreateSandboxRequest>;

export const SandboxInfo = z.object({
  sandbox_id: z.string(),
  owner: z.string().describe('Tenancy id (agent id) of the principal that created the sandbox.'),
  runtime: RuntimeName,
  accelerator: AcceleratorField,
  image: z.string(),
  image_digest: z.string(),
  image_signer: ImageSignerField,
  state: z.enum(['running', 'ended']),
  created_at: z.string(),
  expires_at: z.string().describe('When the TTL reaper ends it unless extended.'),
  idle_timeout_seconds: z.number().nullable().describe('Its idle timeout in seconds; null: none (only the TTL ends it).'),
  metadata: z.record(z.string(), z.string()),
  limits: z.object({
    memory_limit_mb: z.number(),
    cpu_limit: z.number(),
    pids_limit: z.number(),
    scratch_mb: z.number(),
    timeout_seconds: z.number(),
  }),
  pooled: z.boolean().describe('Whether it came from a warm pool.'),
  network_policy: NetworkPolicy,
  allowed_hosts: z.array(z.string()).describe('The allowlist in force (restricted).'),
  secrets: z.array(z.string()).optional().describe('Names of the secrets it was given (files under /run/secrets); never values. Absent: none.'),
  security_violations: z.array(SecurityViolation).describe('Violations recorded while it ran, e.g. network drift.'),
  end_reason: z
    .enum(['killed', 'ttl_expired', 'idle_timeout', 'memory_limit', 'pids_limit', 'agent_exited', 'shutdown', 'recovered_after_crash', 'network_drift', 'error', 'revoked', 'contract_violation'])
    .nullable(),
  ended_at: z.string().nullable(),
});

/** A sandbox as get and delete return it: once ended, with the receipt of its final audit record. */
export const SandboxInfoWithReceipt = SandboxInfo.extend({
  receipt: AuditReceipt.nullable()
    .optional()
    .describe('Once ended (when an audit log is kept): the receipt of its sandbox.ended record (image digest, limits, network, violations, end reason, policy hash); null if that record could not be written.'),
});

export const EgressDecision = z.object({
  sandboxId: z.string(),
  time: z.string(),
  kind: z.enum(['http', 'connect', 'service']),
  host: z.string(),
  port: z.number().int(),
  allowed: z.boolean(),
  reason: z.string().describe('allowlisted, service, or why it was refused (not_allowlisted, private_address, sni_mismatch, ...).'),
  method: z.string().optional(),
  path: z.string().optional(),
  address: z.string().optional().describe('The address connected to (pinned: resolved once).'),
  brokered: z.array(z.string()).optional().describe('Brokered secrets (by name) the request carried: swapped in when allowed, the cause when refused (brokered_secret_unbound).'),
});

export const SandboxNetworkInfo = z.object({
  network_policy: NetworkPolicy,
  allowed_hosts: z.array(z.string()),
  services: z.array(z.string()),
  network_rx_bytes: z.number(),
  network_tx_bytes: z.number(),
  decisions: z.array(EgressDecision).describe("Most recent egress proxy decisions (up to 500), oldest first."),
  allowlist_changes: z.array(z.object({ at: z.string(), allowed_hosts: z.array(z.string()) })),
});

export const SetAllowlistRequest = z
  .object({ allowed_hosts: AllowedHosts })
  .strict()
  .describe('Replaces the allowlist of a running restricted sandbox; takes effect on its next request and is recorded.');

export const SandboxList = z.object({ sandboxes: z.array(SandboxInfo), total_count: z.number().int() });

export const SandboxIdParams = z.object({ id: z.string().regex(SANDBOX_ID_PATTERN, 'invalid sandbox id') }).strict();

export const SetTimeoutRequest = z.object({ ttl_seconds: TtlSeconds }).strict().describe('Sets the idle lifetime, counted from now.');

export const ExecRequest = z
  .object({
    command: Argv.optional(),
    code: z.string().max(512 * 1024).optional().describe('Code to run with `language`. At most one of code or command; with neither, the default command of an imported image (entrypoint + cmd) runs.'),
    language: Language.optional(),
    environment: Environment.optional(),
    cwd: z.string().max(MAX_PATH_LENGTH).optional().describe('Absolute working directory inside the sandbox.'),
    stdin: Stdin.optional(),
    stdin_encoding: StdinEncoding.optional(),
    timeout_seconds: TimeoutSeconds.optional().describe("Per-exec wall-clock limit; default the sandbox's timeout_seconds."),
  })
  .strict();
export type ExecRequest = z.infer<typeof ExecRequest>;

export const ExecQuery = z
  .object({ stream: z.enum(['true', 'false', '1', '0']).optional().describe('false: wait and return the collected output as JSON.') })
  .strict();

export const ExecEndReason = z.enum(['completed', 'timeout', 'killed', 'sandbox_ended', 'output_limit']);

export const ExecOutputFrame = z
  .object({
    type: z.enum(['stdout', 'stderr']),
    data: z.string(),
    encoding: z.enum(['utf8', 'base64']).describe('utf8 when the bytes are valid UTF-8, base64 otherwise.'),
  })
  .describe('One chunk of output, sent as it happens.');

export const ExecExitFrame = z
  .object({
    type: z.literal('exit'),
    exit_code: z.number().int().nullable(),
    signal: z.string().nullable(),
    termination_reason: ExecEndReason,
    duration_ms: z.number(),
    receipt: AuditReceipt.nullable()
      .optional()
      .describe('When an audit log is kept: the receipt of the exec.finished record; null if it could not be written.'),
  })
  .describe('The last frame: how the command ended.');

export const ExecErrorFrame = z
  .object({ type: z.literal('error'), error: z.object({ code: z.string(), message: z.string(), request_id: z.string() }) })
  .describe('Sent instead of the exit frame if the exec failed after streaming began.');

export const ExecFrame = z
  .discriminatedUnion('type', [ExecOutputFrame, ExecExitFrame, ExecErrorFrame])
  .describe('NDJSON: one frame per line. SSE: event name = type, data = the frame.');

export const ExecuteResultFrame = ExecuteResponse.extend({ type: z.literal('result') }).describe('The last frame of a streamed one-shot: its execution result.');

export const ExecuteFrame = z
  .discriminatedUnion('type', [ExecOutputFrame, ExecuteResultFrame, ExecErrorFrame])
  .describe('A streamed one-shot, NDJSON: one frame per line. SSE: event name = type, data = the frame.');

export const ExecCollectedResponse = z.object({
  exec_id: z.string(),
  stdout: z.string(),
  stderr: z.string(),
  stdout_encoding: z.enum(['utf8', 'base64']),
  stderr_encoding: z.enum(['utf8', 'base64']),
  stdout_truncated: z.boolean(),
  stderr_truncated: z.boolean(),
  exit_code: z.number().int().nullable(),
  signal: z.string().nullable(),
  termination_reason: ExecEndReason,
  duration_ms: z.number(),
  receipt: AuditReceipt.nullable()
    .optional()
    .describe('When an audit log is kept: the receipt of the exec.finished record; null if it could not be written.'),
});
export type ExecCollectedResponse = z.infer<typeof ExecCollectedResponse>;

const SandboxPath = z.string().min(1).max(MAX_PATH_LENGTH).describe('Absolute path inside the sandbox; no ".." components, no NUL.');

export const FilePathQuery = z.object({ path: SandboxPath }).strict();

export const FileWriteQuery = z
  .object({
    path: SandboxPath,
    mode: z.string().regex(/^0?[0-7]{3}$/, 'must be an octal mode such as 0644').optional().describe('Permission bits, octal; default as the service decides.'),
  })
  .strict();

export const FileWriteResponse = z.object({ path: z.string(), size: z.number().int() });

export const FileEntry = z.object({
  name: z.string(),
  path: z.string(),
  type: z.enum(['file', 'dir', 'symlink', 'other']),
  size: z.number(),
  mode: z.number().int(),
  modified_at: z.string(),
});

export const FileListResponse = z.object({ path: z.string(), entries: z.array(FileEntry) });

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Compile-time proof that the wire schemas match the service's types. */
export type SandboxSchemasMatch = [
  Equals<z.infer<typeof SandboxInfo>, ServiceSandboxInfo>,
  Equals<z.infer<typeof FileEntry>, ServiceFileEntry>,
  Equals<z.infer<typeof SandboxNetworkInfo>, ServiceSandboxNetworkInfo>,
] extends [true, true, true]
  ? true
  : never;
const sandboxSchemasMatch: SandboxSchemasMatch = true;
void sandboxSchemasMatch;
