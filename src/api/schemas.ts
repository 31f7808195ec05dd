/**
 * Wire schemas (zod) shared by every route: the error envelope, limits, grants, and the seed's
 * one-shot execute/status/health shapes. These objects are the single source of truth: routes
 * validate with them, handler types are inferred from them, and the OpenAPI document is generated
 * from them. Every request object is `.strict()`: an unknown field is refused, never ignored.
 * Persistent-sandbox schemas are in `schemas-sandboxes.ts`.
 */
import { z } from 'zod';
import { AuditReceipt } from './schemas-audit.ts';
import { IMPLEMENTED_RUNTIMES, RUNTIME_ALIASES, type ImplementedRuntime } from '../isolation/runtimes.ts';
import { ACCELERATORS, RUNTIME_NAMES } from '../isolation/driver.ts';
import { TERMINATION_REASONS, type ExecutionResult } from '../sandbox/result.ts';
import { IMAGE_REF_PATTERN, MAX_PATH_LENGTH, MAX_STDIN_CHARS } from '../sandbox/request-rules.ts';
import { errorCodeList } from './error-codes.ts';
import { MAX_SECRETS_PER_REQUEST, SECRET_NAME_PATTERN, SECRET_NAME_RULE } from '../secrets/names.ts';

/** Longest path accepted anywhere in the API. */
export { MAX_PATH_LENGTH };
/** Sandbox ids: what the service hands out; anything else is refused before a lookup. */
export const SANDBOX_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
/** `sha256:` + 64 lowercase hex digits. */
export const POLICY_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
// NUL can't be passed through execve; refusing it here keeps the error a clear 400.
const NO_NUL = /^[^\0]*$/;
const MAX_ENV_ENTRIES = 128;
const MAX_GRANTS = 32;

/** Languages `code` can be written in. */
export const LANGUAGE_NAMES = ['python', 'javascript', 'bash'] as const;

/** Every refusal: a stable code, a message naming what was refused, and the request id. */
export const ErrorEnvelope = z
  .object({
    error: z.object({
      code: z.string().describe(`Stable machine-readable code, one of (HTTP status in brackets):\n${errorCodeList().map((line) => `- ${line}`).join('\n')}`),
      message: z.string().describe('What was refused and why, naming the field or control.'),
      request_id: z.string().describe('Same as the x-request-id response header.'),
      details: z
        .array(z.object({ path: z.string().describe('Where: body.limits.cpu_limit, query.path, params.id.'), message: z.string().describe('What is wrong there.') }))
        .optional()
        .describe('Every problem of a refused request (validation errors), not just the first; absent when there is one cause.'),
    }),
  })
  .describe('The body of every 4xx and 5xx response.');

const RUNTIME_INPUTS = [...IMPLEMENTED_RUNTIMES, ...Object.keys(RUNTIME_ALIASES)] as [string, ...string[]];

export const RuntimeField = z
  .enum(RUNTIME_INPUTS, { error: (iss) => `unknown runtime "${String(iss.input)}" (this build has: ${RUNTIME_INPUTS.join(', ')})` })
  .transform((name) => RUNTIME_ALIASES[name] ?? (name as ImplementedRuntime))
  .describe('Isolation runtime; default namespace. firecracker is another name for microvm (a QEMU microvm guest here; grants and secrets are refused on it in this build). A runtime this host cannot run is refused with 400, never replaced by a weaker one.');

export const NetworkPolicy = z
  .enum(['none', 'restricted', 'full'])
  .describe('Network access; default none. none: own empty network namespace (loopback only). restricted: only the egress proxy, which allows the hosts in allowed_hosts (and the named services). full: NAT\'d egress that still refuses the host, private ranges and cloud metadata.');

export const AllowedHosts = z
  .array(z.string().min(1).max(300))
  .max(4096)
  .describe('Allowlist of network_policy restricted: "host", "host:port", "*.example.com[:port]", IP literals ("[v6]:port"). Without a port, 80 and 443. Overly broad patterns (*, *.com, any public suffix) are refused with the reason.');

export const ServiceNames = z
  .array(z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'a configured service name'))
  .max(32)
  .describe('Internal services (configured by the operator) the sandbox may call through the proxy at http://NAME.airlock.internal, with their allowed methods and paths only.');

export const ImageField = z.string().regex(IMAGE_REF_PATTERN, 'invalid image name').describe('Root filesystem image name or sha256 digest; default: the configured default image.');

export const PolicyHashField = z
  .string()
  .regex(POLICY_HASH_PATTERN, 'must be sha256: followed by 64 lowercase hex digits')
  .describe('Refuse with 409 unless the active policy hash equals this (same as header X-Airlock-Policy-Hash).');

export const AgentId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/, 'must be 1-128 letters, digits or ._:@-').describe('Identifier of the calling agent.');

export const Environment = z
  .record(z.string().regex(ENV_NAME_PATTERN, 'invalid environment variable name'), z.string().max(32_768).regex(NO_NUL, 'contains a NUL byte'))
  .refine((env) => Object.keys(env).length <= MAX_ENV_ENTRIES, `at most ${MAX_ENV_ENTRIES} variables`)
  .describe('Environment variables of the sandboxed process. Nothing else is inherited from the host.');

export const SecretNames = z
  .array(z.string().regex(SECRET_NAME_PATTERN, `invalid secret name (${SECRET_NAME_RULE})`))
  .max(MAX_SECRETS_PER_REQUEST)
  .refine((names) => new Set(names).size === names.length, 'a secret is named twice')
  .describe('Secrets the sandbox is given, by name: each is the read-only file /run/secrets/NAME (mode 0400, on a tmpfs), never an environment variable. Policy decides each one; its value is redacted from all output.');

export const Argv = z
  .array(z.string().max(65_536).regex(NO_NUL, 'contains a NUL byte'))
  .min(1)
  .max(1024)
  .describe('Command and arguments (argv); run directly, no shell.');

export const Language = z.enum(LANGUAGE_NAMES).describe('Language of `code`; default python.');

/** A host path granted to the sandbox: a bare path (read-only, same path inside) or an object. */
export const FilesystemGrant = z.union(
  [
    z.string().max(MAX_PATH_LENGTH).describe('Host path, granted read-only at the same path inside.'),
    z
      .object({
        host_path: z.string().max(MAX_PATH_LENGTH).describe('Absolute host path.'),
        sandbox_path: z.string().max(MAX_PATH_LENGTH).optional().describe('Absolute path inside; default host_path.'),
        mode: z.enum(['ro', 'rw']).optional().describe('Default ro.'),
      })
      .strict(),
  ],
  { error: 'must be an absolute host path, or {host_path, sandbox_path?, mode?: "ro" | "rw"}' },
);

export const FilesystemAccess = z.array(FilesystemGrant).max(MAX_GRANTS).describe('Host paths granted to the sandbox; none by default.');

const positive = (description: string) => z.number().positive().describe(description);
const positiveInt = (description: string) => z.number().int().positive().describe(description);

/** Limit fields of the seed request; each is checked against the configured maximum, never clamped. */
export const TimeoutSeconds = positive('Wall-clock limit in seconds (at most the configured maximum, default 600).');
export const MemoryLimitMb = positiveInt('Memory limit in MiB (at most the configured maximum, default 2048).');
export const CpuLimit = positive('CPU quota in cores (at most the configured maximum, default 2).');
export const PidsLimit = positiveInt('Maximum number of tasks (at most the configured maximum).');
export const ScratchMb = positiveInt('Size of the writable /tmp in MiB (at most the configured maximum).');

/** A shell command line, run as `sh -c STRING` (the image's POSIX shell). */
export const ShellCommand = z
  .string()
  .min(1)
  .max(65_536)
  .regex(NO_NUL, 'contains a NUL byte')
  .describe('A command line for the image\'s POSIX shell, run as `sh -c STRING`.');

/** Input for the command: written to it, then its stdin is closed. */
export const Stdin = z.string().max(MAX_STDIN_CHARS).describe('Written to the command, then stdin is closed.');
export const StdinEncoding = z.enum(['utf8', 'base64']).describe('Encoding of `stdin`; default utf8.');

/** Where the command starts inside the sandbox; it must exist in the image (or be under /tmp). */
export const Workdir = z.string().max(MAX_PATH_LENGTH).describe('Absolute working directory inside the sandbox; default /tmp. A path the image cannot have is refused with 403 workdir_refused.');

/** Execution ids: what the service hands out (UUIDs); anything else is refused before a lookup. */
export const EXECUTION_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * `POST /api/v1/sandbox/execute`: the seed's fields plus everything `airlock run` takes (image,
 * pids and scratch limits, working directory, language, a command as argv or a shell string,
 * piped input) and a policy pin.
 */
export const ExecuteRequest = z
  .object({
    agent_id: AgentId.optional().describe('The agent the run is recorded under; default: the caller\'s own agent id (policy decides whether a caller may name another).'),
    code: z.string().max(512 * 1024).optional().describe('Code to run with `language`. At most one of code or command; with neither, an imported image runs its default command (entrypoint + cmd).'),
    command: z
      .union([Argv, ShellCommand], { error: 'must be an argv array of strings, or a string run as sh -c' })
      .optional()
      .describe('An argv array (run directly, no shell) or a string (run as `sh -c STRING`). At most one of code or command; with neither, an imported image runs its default command (entrypoint + cmd) in its workdir.'),
    language: Language.optional(),
    runtime: RuntimeField.optional(),
    image: ImageField.optional(),
    workdir: Workdir.optional(),
    stdin: Stdin.optional().describe('Written to the command, then its stdin is closed (as `airlock run` forwards piped input). Not with code, which is fed on stdin itself.'),
    stdin_encoding: StdinEncoding.optional(),
    timeout_seconds: TimeoutSeconds.optional(),
    memory_limit_mb: MemoryLimitMb.optional(),
    cpu_limit: CpuLimit.optional(),
    pids_limit: PidsLimit.optional(),
    scratch_mb: ScratchMb.optional(),
    network_policy: NetworkPolicy.optional(),
    allowed_hosts: AllowedHosts.optional(),
    services: ServiceNames.optional(),
    filesystem_access: FilesystemAccess.optional(),
    environment: Environment.optional(),
    secrets: SecretNames.optional(),
    expected_policy_hash: PolicyHashField.optional(),
  })
  .strict()
  .describe('One command or snippet in a fresh sandbox that is destroyed afterwards.');
export type ExecuteRequest = z.infer<typeof ExecuteRequest>;

export const SecurityViolation = z.object({
  violation_id: z.string(),
  timestamp: z.string(),
  violation_type: z.string(),
  severity: z.enum(['LOW', 'MEDIUM', 'HIGH', 'CRITICAL']),
  description: z.string(),
  detection_layer: z.enum(['SECCOMP', 'NETWORK', 'FILESYSTEM', 'RESOURCE', 'POLICY', 'MCP']),
  blocked: z.boolean(),
  indicators: z.record(z.string(), z.unknown()),
  remediation: z.string(),
});

export const ResourceUsage = z.object({
  cpu_usage_cores: z.number().describe("Average cores the command used over its run (its CPU time / its wall time, runtime start-up excluded); never above the CPU limit or the host's cores."),
  memory_usage_mb: z.number().describe('Peak memory of the sandbox cgroup, MiB.'),
  network_rx_bytes: z.number(),
  network_tx_bytes: z.number(),
});

export const TerminationReason = z.enum(TERMINATION_REASONS).describe('Why the sandbox ended; every limit hit has its own reason.');
export const RuntimeName = z.enum(RUNTIME_NAMES);

/** The verified signer of the image a sandbox runs: one-shot results and persistent sandboxes alike. */
export const ImageSignerField = z.string().nullable().describe('Id of the trusted key (imagePolicy) whose signature over the image verified; null when none did.');

/** What ran a microvm guest: one-shot results and persistent sandboxes alike. */
export const AcceleratorField = z.enum(ACCELERATORS).nullable().describe('What ran the guest of a microvm sandbox: kvm, or tcg (QEMU emulating the CPU, no KVM: much slower); null when no VM ran.');

/** The execution result of the public contract. */
export const ExecutionResultSchema = z.object({
  execution_id: z.string(),
  success: z.boolean(),
  output: z.string().describe('Captured stdout, without its final newline.'),
  error: z.string().nullable().describe('Captured stderr, or why the sandbox could not start; null when empty.'),
  exit_code: z.number().int().nullable(),
  security_violations: z.array(SecurityViolation),
  execution_time_seconds: z.number(),
  cold_start_time_ms: z.number(),
  resource_usage: ResourceUsage,
  termination_reason: TerminationReason,
  runtime_used: RuntimeName,
  accelerator: AcceleratorField,
  policy_hash: z.string().describe('SHA-256 of the policy bundle that produced this result.'),
  image_digest: z.string().describe('sha256 digest of the stored image the command ran in (over its verified manifest).'),
  image_signer: ImageSignerField,
});

export const ExecuteResponse = ExecutionResultSchema.extend({
  receipt: AuditReceipt.nullable()
    .optional()
    .describe('When an audit log is kept: the receipt of the execution.finished record (verify offline with airlock receipt verify); null if that record could not be written.'),
  constitutional_hash_verified: z.boolean().nullable().describe('Whether the request\'s pinned policy hash (expected_policy_hash / X-Airlock-Policy-Hash) matched the active one; null when the request pinned none.'),
});
export type ExecuteResponse = z.infer<typeof ExecuteResponse>;

export const HealthResponse = z.object({
  status: z.enum(['healthy', 'degraded']),
  service: z.string(),
  version: z.string(),
  policy_hash: z.string(),
  constitutional_hash: z.string().describe('Same as policy_hash (the seed name).'),
  runtimes_available: z.array(RuntimeName).describe('Only runtimes that really work on this host.'),
  active_sandboxes: z.number().int(),
  authentication: z
    .object({
      unix_socket: z.boolean().describe('Callers on the unix socket are known by their uid (auth.localUsers; root is the operator).'),
      signed_requests: z.boolean().describe('RFC 9421 signed requests by registered keys are verified.'),
      unsigned_loopback: z.boolean().describe('Development switch auth.unsignedLoopback: unsigned loopback TCP requests are accepted. Never on in production.'),
    })
    .describe('Which ways of authenticating this server accepts.'),
  audit: z
    .object({
      writable: z.boolean().describe('false: the audit store cannot be written, and every request that needs a record (every sandbox) is refused with 503 audit_unavailable.'),
      reason: z.string().nullable().describe("The store's error while not writable."),
      since: z.string().nullable(),
      tree_size: z.number().int().nullable().describe('Records in the log (null when it could not be read).'),
    })
    .optional()
    .describe('The audit log; absent when this server keeps none.'),
});
export type HealthResponse = z.infer<typeof HealthResponse>;

export const StatusResponse = z.object({
  active_sandboxes: z.array(
    z.object({
      execution_id: z.string().describe('One-shot: its execution id (the X-Airlock-Execution-Id of its request; cancel with DELETE /api/v1/sandbox/executions/{id}). Persistent: the sandbox id.'),
      agent_id: z.string(),
      runtime: RuntimeName,
      uptime_seconds: z.number(),
      pod_name: z.string(),
      kind: z.enum(['execution', 'sandbox']).describe('execution: a one-shot run of POST /api/v1/sandbox/execute; sandbox: a persistent sandbox.'),
    }),
  ),
  total_count: z.number().int(),
  policy_hash: z.string(),
  constitutional_hash_verified: z.null().describe('Always null: a status request pins no policy hash.'),
});
export type StatusResponse = z.infer<typeof StatusResponse>;

export const ExecutionIdParams = z
  .object({ id: z.string().regex(EXECUTION_ID_PATTERN, 'must be an execution id (a UUID, as execute returned it)').describe('Execution id (X-Airlock-Execution-Id).') })
  .strict();

export const CancelledExecution = z
  .object({
    execution_id: z.string(),
    agent_id: z.string(),
    runtime: RuntimeName,
    termination_reason: TerminationReason.describe('killed, unless the run ended by itself before the cancellation reached it.'),
  })
  .describe('A one-shot execution after its cancellation: ended, its sandbox torn down. Its full result goes to the request that started it.');
export type CancelledExecution = z.infer<typeof CancelledExecution>;

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Compile-time proof that the wire schema and the service's result type are the same shape. */
export type ExecutionResultSchemaMatches = Equals<z.infer<typeof ExecutionResultSchema>, ExecutionResult> extends true ? true : never;
const executionResultSchemaMatches: ExecutionResultSchemaMatches = true;
void executionResultSchemaMatches;
