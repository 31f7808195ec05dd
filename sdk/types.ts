/**
 * Wire types of the airlock HTTP API, inferred from the zod schemas the server validates with.
 * Every import here is type-only: nothing of zod or the server is loaded at run time, so a browser
 * bundle of the SDK carries none of it.
 */
import type { z } from 'zod';
import type {
  CancelledExecution as CancelledExecutionSchema,
  ErrorEnvelope as ErrorEnvelopeSchema,
  ExecuteRequest as ExecuteRequestSchema,
  ExecuteResponse as ExecuteResponseSchema,
  HealthResponse as HealthResponseSchema,
  NetworkPolicy as NetworkPolicySchema,
  SecurityViolation as SecurityViolationSchema,
  StatusResponse as StatusResponseSchema,
} from '../src/api/schemas.ts';
import type {
  CreateSandboxRequest as CreateSandboxRequestSchema,
  EgressDecision as EgressDecisionSchema,
  ExecCollectedResponse as ExecCollectedResponseSchema,
  ExecEndReason as ExecEndReasonSchema,
  ExecErrorFrame as ExecErrorFrameSchema,
  ExecExitFrame as ExecExitFrameSchema,
  ExecFrame as ExecFrameSchema,
  ExecOutputFrame as ExecOutputFrameSchema,
  ExecRequest as ExecRequestSchema,
  FileEntry as FileEntrySchema,
  FileListResponse as FileListResponseSchema,
  FileWriteResponse as FileWriteResponseSchema,
  SandboxInfo as SandboxInfoSchema,
  SandboxList as SandboxListSchema,
  SandboxNetworkInfo as SandboxNetworkInfoSchema,
  SetAllowlistRequest as SetAllowlistRequestSchema,
} from '../src/api/schemas-sandboxes.ts';

/** `{"error": {"code", "message", "request_id"}}`: the body of every 4xx/5xx answer. */
export type ErrorEnvelope = z.infer<typeof ErrorEnvelopeSchema>;
/** Body of `POST /api/v1/sandbox/execute` (one command or snippet in a fresh, throw-away sandbox). */
export type ExecuteRequest = z.input<typeof ExecuteRequestSchema>;
/** Result of a one-shot execution; a failed command is a result with `success: false`, not an error. */
export type ExecuteResponse = z.infer<typeof ExecuteResponseSchema>;
/** `DELETE /api/v1/sandbox/executions/{id}`: a cancelled one-shot, ended and torn down. */
export type CancelledExecution = z.infer<typeof CancelledExecutionSchema>;
/** A security violation reported with an execution result. */
export type SecurityViolation = z.infer<typeof SecurityViolationSchema>;
/** `GET /health`. */
export type HealthResponse = z.infer<typeof HealthResponseSchema>;
/** `GET /api/v1/sandbox/status`. */
export type StatusResponse = z.infer<typeof StatusResponseSchema>;
/** Body of `POST /api/v1/sandboxes`. */
export type CreateSandboxRequest = z.input<typeof CreateSandboxRequestSchema>;
/** A persistent sandbox as the server describes it. */
export type SandboxInfo = z.infer<typeof SandboxInfoSchema>;
/** Network access of a sandbox: `none` (default), `restricted` (egress proxy + allowlist) or `full`. */
export type NetworkPolicy = z.infer<typeof NetworkPolicySchema>;
/** `GET /api/v1/sandboxes/{id}/network` (and the answer of `PUT`): policy, allowlist, services, traffic, recent egress decisions. */
export type SandboxNetworkInfo = z.infer<typeof SandboxNetworkInfoSchema>;
/** One decision of a sandbox's egress proxy (allowed or refused, with the reason). */
export type EgressDecision = z.infer<typeof EgressDecisionSchema>;
/** Body of `PUT /api/v1/sandboxes/{id}/network`. */
export type SetAllowlistRequest = z.input<typeof SetAllowlistRequestSchema>;
/** `GET /api/v1/sandboxes`. */
export type SandboxList = z.infer<typeof SandboxListSchema>;
/** Body of `POST /api/v1/sandboxes/{id}/exec`. */
export type ExecRequest = z.input<typeof ExecRequestSchema>;
/** Why an exec ended. */
export type ExecEndReason = z.infer<typeof ExecEndReasonSchema>;
/** One NDJSON line of an exec stream. */
export type ExecFrame = z.infer<typeof ExecFrameSchema>;
/** A stdout/stderr chunk of an exec stream. */
export type ExecOutputFrame = z.infer<typeof ExecOutputFrameSchema>;
/** The last frame of a successful exec stream. */
export type ExecExitFrame = z.infer<typeof ExecExitFrameSchema>;
/** Sent instead of the exit frame when the exec failed after streaming began. */
export type ExecErrorFrame = z.infer<typeof ExecErrorFrameSchema>;
/** `POST /api/v1/sandboxes/{id}/exec?stream=false`: output collected into one body. */
export type ExecCollectedResponse = z.infer<typeof ExecCollectedResponseSchema>;
/** One entry of a directory listing. */
export type FileEntry = z.infer<typeof FileEntrySchema>;
/** `GET /api/v1/sandboxes/{id}/files/list`. */
export type FileListResponse = z.infer<typeof FileListResponseSchema>;
/** `PUT /api/v1/sandboxes/{id}/files`. */
export type FileWriteResponse = z.infer<typeof FileWriteResponseSchema>;
