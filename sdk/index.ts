/**
 * airlock SDK: a client of the airlock control plane for Node (24+) and browsers. It uses only web
 * APIs (`fetch`, streams, `TextDecoder`, `AbortController`); its wire types are inferred from the
 * server's own zod schemas, type-only.
 */
export { AirlockClient, type ClientOptions, type ExecStream, type ExecStreamOptions, type WriteFileOptions } from './client.ts';
export { Sandbox, type SandboxConnection, type SandboxCreateOptions } from './sandbox.ts';
export { CommandHandle, Commands } from './commands.ts';
export { Files, type ReadOptions } from './files.ts';
export type { BackgroundRunOptions, CommandResult, ForegroundRunOptions, OutputListener, RunOptions } from './command-types.ts';
export { DEFAULT_BASE_URL, type CallOptions, type ConnectionOptions, type FetchFunction } from './http.ts';
export { readExecFrames, readNdjson, type StreamFrame } from './ndjson.ts';
export {
  decideApproval,
  decisionSigningText,
  getApproval,
  listApprovals,
  signApprovalDecision,
  waitForApproval,
  type ApprovalInfo,
  type DecisionFields,
  type SignedApprovalDecision,
  type WaitForApprovalOptions,
} from './approvals.ts';
export { withApproval, type WithApprovalOptions } from './with-approval.ts';
export { importSigningKey, signedHeaders, type RequestToSign, type SigningKey, type SignOptions } from './signing.ts';
export {
  AirlockError,
  ApprovalDeniedError,
  ApprovalExpiredError,
  ApprovalRefusedError,
  ApprovalRequiredError,
  CommandExitError,
  ControlRefusedError,
  ExecutionNotFoundError,
  ExecutionNotRunningError,
  FileNotFoundError,
  InvalidRequestError,
  NetworkError,
  PolicyMismatchError,
  RateLimitError,
  SandboxNotFoundError,
  SandboxNotRunningError,
  ServiceUnavailableError,
  TimeoutError,
  type AirlockErrorOptions,
} from './errors.ts';
export type * from './types.ts';
