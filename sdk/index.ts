/**
 * airlock SDK (`@airlock-sandbox/sdk`): a client of the airlock control plane for Node (24+) and
 * browsers, in E2B's vocabulary where it means the same thing. It uses only web APIs (`fetch`,
 * streams, `TextDecoder`, `AbortController`) and depends on no package; in Node, `Sandbox` reads
 * `AIRLOCK_URL` and `AIRLOCK_KEY` (loaded on demand from `environment.ts`).
 */
export { AirlockClient, type ClientOptions, type ExecStream, type ExecStreamOptions, type ExecuteStream, type WriteFileOptions } from './client.ts';
export { Sandbox, type E2BCreateOptions, type SandboxConnectOptions, type SandboxConnection, type SandboxCreateOptions, type SandboxSummary } from './sandbox.ts';
export { CommandHandle, Commands, type ProcessInfo } from './commands.ts';
export { DirectoryWatch, Files, type FilesystemEvent, type ReadFormat, type ReadOptions, type WatchDirOptions, type WriteData, type WriteEntry } from './files.ts';
export type { RetryOptions } from './retry.ts';
export type { BackgroundRunOptions, CommandResult, ForegroundRunOptions, OutputListener, RunOptions } from './command-types.ts';
export { DEFAULT_BASE_URL, type CallOptions, type ConnectionOptions, type FetchFunction } from './http.ts';
export { readExecFrames, readNdjson, readOneShotFrames, type OneShotFrame, type StreamFrame } from './ndjson.ts';
export {
  decideApproval,
  type ApprovalList,
  type PolicyAction,
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
