/**
 * Typed errors of the SDK. Every error is an `AirlockError` with a string `code`: the server's
 * error-envelope code for refusals it answered (`sandbox_not_found`, `capacity_exceeded`, …), or
 * one of the SDK's own for what happened on this side (`network_error`, `timeout`,
 * `command_exit`, `stream_ended`, `invalid_response`).
 */
import type { ApprovalInfo } from './approvals.ts';
import type { CommandResult } from './command-types.ts';

/** Options shared by every SDK error. */
export interface AirlockErrorOptions {
  /** Stable machine-readable code. */
  code: string;
  /** HTTP status of the refusal; undefined when no HTTP answer carried it. */
  status?: number | undefined;
  /** The server's request id (quote it when reporting a problem). */
  requestId?: string | undefined;
  /** The underlying error, if any. */
  cause?: unknown;
}

/** Base class of every error the SDK throws. */
export class AirlockError extends Error {
  override readonly name: string = 'AirlockError';
  /** Stable machine-readable code: the server's envelope code, or an SDK-side code. */
  readonly code: string;
  /** HTTP status of the refusal, when there was one. */
  readonly status: number | undefined;
  /** Server request id, when the server answered. */
  readonly requestId: string | undefined;

  constructor(message: string, options: AirlockErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code;
    this.status = options.status;
    this.requestId = options.requestId;
  }
}

/** 429: the server is at capacity. Retry after `retryAfter` seconds. */
export class RateLimitError extends AirlockError {
  override readonly name: string = 'RateLimitError';
  /** Seconds to wait before retrying, from the `Retry-After` header; undefined when absent. */
  readonly retryAfter: number | undefined;

  constructor(message: string, options: AirlockErrorOptions & { retryAfter?: number | undefined }) {
    super(message, options);
    this.retryAfter = options.retryAfter;
  }
}

/** No such sandbox (never existed, or ended and forgotten). */
export class SandboxNotFoundError extends AirlockError {
  override readonly name: string = 'SandboxNotFoundError';
}

/** The sandbox exists but has ended, so it can't run commands or move files. */
export class SandboxNotRunningError extends AirlockError {
  override readonly name: string = 'SandboxNotRunningError';
}

/** No running one-shot execution has this id (404 `execution_not_found`). */
export class ExecutionNotFoundError extends AirlockError {
  override readonly name: string = 'ExecutionNotFoundError';
}

/** The one-shot execution has already ended (409 `execution_not_running`); its result went to its caller. */
export class ExecutionNotRunningError extends AirlockError {
  override readonly name: string = 'ExecutionNotRunningError';
}

/** A path inside the sandbox doesn't exist. */
export class FileNotFoundError extends AirlockError {
  override readonly name: string = 'FileNotFoundError';
}

/** The request was refused as malformed or out of range (400, 413, 415, …); the message names the field. */
export class InvalidRequestError extends AirlockError {
  override readonly name: string = 'InvalidRequestError';
}

/**
 * 403: a control refused the request before anything ran (`filesystem_access_refused`: a host path
 * that may not be granted; `workdir_refused`; `image_refused`: the image policy refuses the image);
 * the message starts with the control's name.
 */
export class ControlRefusedError extends AirlockError {
  override readonly name: string = 'ControlRefusedError';
}

/** The request pinned a policy hash that isn't the server's active policy (409). */
export class PolicyMismatchError extends AirlockError {
  override readonly name: string = 'PolicyMismatchError';
}

/** 503: a hardening control could not be applied, or the server is shutting down. */
export class ServiceUnavailableError extends AirlockError {
  override readonly name: string = 'ServiceUnavailableError';
}

/**
 * 202 `approval_required`: policy sends this request to a human, and nothing was done. Once an
 * approver has approved `approvalId` (`airlock approvals approve ID`), repeat exactly the same call
 * with the call option `{ approvalId }`: the same resolved parameters, or it is refused
 * `approval_digest_mismatch`. `withApproval` does the waiting and the retry.
 */
export class ApprovalRequiredError extends AirlockError {
  override readonly name: string = 'ApprovalRequiredError';
  /** The pending approval's id: give it as `approvalId` when retrying. */
  readonly approvalId: string;
  /** `sha256:<hex>` of the admitted request: what the approver signs. */
  readonly actionDigest: string;
  /** When the approval lapses unless decided (and used) before. */
  readonly expiresAt: Date;
  /** The approval as the server shows it (requester, action, resolved request, policies, reasons). */
  readonly approval: ApprovalInfo;

  constructor(approval: ApprovalInfo, options: { requestId?: string | undefined } = {}) {
    const why = approval.reasons.length > 0 ? approval.reasons.join('; ') : 'policy asks for a signed approval';
    super(`approval required: ${why} (approval ${approval.approval_id}, expires ${approval.expires_at})`, { code: 'approval_required', status: 202, requestId: options.requestId });
    this.approvalId = approval.approval_id;
    this.actionDigest = approval.action_digest;
    this.expiresAt = new Date(approval.expires_at);
    this.approval = approval;
  }
}

/**
 * An approval could not be used or decided: every `approval_*` refusal of the server (the code says
 * which: `approval_digest_mismatch`, `approval_reused`, `approval_pending`, …).
 */
export class ApprovalRefusedError extends AirlockError {
  override readonly name: string = 'ApprovalRefusedError';
  /** The approval, when the SDK read it (`withApproval`); undefined for a refusal the server answered. */
  readonly approval: ApprovalInfo | undefined;

  constructor(message: string, options: AirlockErrorOptions & { approval?: ApprovalInfo | undefined }) {
    super(message, options);
    this.approval = options.approval;
  }
}

/** An approver denied the approval (`approval_denied`): the request will not run. */
export class ApprovalDeniedError extends ApprovalRefusedError {
  override readonly name: string = 'ApprovalDeniedError';
}

/** The approval, or its signed decision, lapsed before it was used (`approval_expired`): ask again. */
export class ApprovalExpiredError extends ApprovalRefusedError {
  override readonly name: string = 'ApprovalExpiredError';
}

/** The server could not be reached, or the connection broke before an answer. */
export class NetworkError extends AirlockError {
  override readonly name: string = 'NetworkError';
}

/** A time limit passed: a command's `timeoutMs` (then `result` is set) or a request's deadline. */
export class TimeoutError extends AirlockError {
  override readonly name: string = 'TimeoutError';
  /** The command's output up to the timeout, when a command timed out. */
  readonly result: CommandResult | undefined;

  constructor(message: string, options: AirlockErrorOptions & { result?: CommandResult | undefined }) {
    super(message, options);
    this.result = options.result;
  }
}

/** A command ended unsuccessfully: non-zero exit, a signal, a limit, or a kill. Carries the result. */
export class CommandExitError extends AirlockError {
  override readonly name: string = 'CommandExitError';
  /** The full result: output, exit code, signal, termination reason. */
  readonly result: CommandResult;

  constructor(result: CommandResult) {
    super(describeEnding(result), { code: 'command_exit' });
    this.result = result;
  }

  /** Shorthand for `result.exitCode`. */
  get exitCode(): number | null {
    return this.result.exitCode;
  }

  /** Shorthand for `result.stdout`. */
  get stdout(): string {
    return this.result.stdout;
  }

  /** Shorthand for `result.stderr`. */
  get stderr(): string {
    return this.result.stderr;
  }
}

function describeEnding(result: CommandResult): string {
  if (result.terminationReason === 'completed') {
    return result.exitCode !== null ? `command exited with code ${result.exitCode}` : `command was ended by ${result.signal ?? 'a signal'}`;
  }
  const how = result.exitCode !== null ? ` (exit code ${result.exitCode})` : result.signal !== null ? ` (${result.signal})` : '';
  return `command ended: ${result.terminationReason.replace('_', ' ')}${how}`;
}

type ErrorClass = new (message: string, options: AirlockErrorOptions) => AirlockError;

/** Envelope codes (the API's list: src/api/error-codes.ts) and the class each maps to. */
const BY_CODE: Record<string, ErrorClass> = {
  sandbox_not_found: SandboxNotFoundError,
  sandbox_not_running: SandboxNotRunningError,
  execution_not_found: ExecutionNotFoundError,
  execution_not_running: ExecutionNotRunningError,
  file_not_found: FileNotFoundError,
  policy_mismatch: PolicyMismatchError,
  invalid_request: InvalidRequestError,
  invalid_path: InvalidRequestError,
  invalid_json: InvalidRequestError,
  not_supported: InvalidRequestError,
  runtime_unavailable: InvalidRequestError,
  image_not_found: InvalidRequestError,
  payload_too_large: InvalidRequestError,
  unsupported_media_type: InvalidRequestError,
  headers_too_large: InvalidRequestError,
  method_not_allowed: InvalidRequestError,
  host_not_allowed: InvalidRequestError,
  filesystem_access_refused: ControlRefusedError,
  workdir_refused: ControlRefusedError,
  image_refused: ControlRefusedError,
  control_failed: ServiceUnavailableError,
  shutting_down: ServiceUnavailableError,
  approval_denied: ApprovalDeniedError,
  approval_expired: ApprovalExpiredError,
  approval_not_found: ApprovalRefusedError,
  approval_unavailable: ApprovalRefusedError,
  approval_digest_mismatch: ApprovalRefusedError,
  approval_reused: ApprovalRefusedError,
  approval_pending: ApprovalRefusedError,
  approval_signature_invalid: ApprovalRefusedError,
  approver_role_required: ApprovalRefusedError,
  self_approval: ApprovalRefusedError,
  approval_nonce_replayed: ApprovalRefusedError,
  approval_already_decided: ApprovalRefusedError,
  approval_decision_invalid: ApprovalRefusedError,
};

/** Statuses whose unknown codes still have an obvious class. */
const BY_STATUS: Record<number, ErrorClass> = {
  400: InvalidRequestError,
  413: InvalidRequestError,
  405: InvalidRequestError,
  415: InvalidRequestError,
  421: InvalidRequestError,
  422: InvalidRequestError,
  431: InvalidRequestError,
  503: ServiceUnavailableError,
};

/**
 * Parses `Retry-After`: delta-seconds or an HTTP date (seconds from `now`, at least 0).
 * Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}

/** The typed error for an envelope `{code, message, request_id}` answered with `status`. */
export function errorFromEnvelope(
  envelope: { code: string; message: string; request_id?: string | undefined },
  status: number | undefined,
  retryAfterHeader?: string | null,
): AirlockError {
  const options: AirlockErrorOptions = { code: envelope.code, status, requestId: envelope.request_id };
  if (status === 429 || envelope.code === 'capacity_exceeded') {
    return new RateLimitError(envelope.message, { ...options, retryAfter: parseRetryAfter(retryAfterHeader) });
  }
  const Class = BY_CODE[envelope.code] ?? (status === undefined ? undefined : BY_STATUS[status]) ?? AirlockError;
  return new Class(envelope.message, options);
}

/** Reads a non-2xx response and returns its typed error; a body that isn't an envelope still yields one. */
export async function errorFromResponse(response: Response): Promise<AirlockError> {
  const requestId = response.headers.get('x-request-id') ?? undefined;
  const text = await response.text().catch(() => '');
  const envelope = envelopeOf(text);
  if (envelope !== undefined) {
    return errorFromEnvelope({ ...envelope, request_id: envelope.request_id ?? requestId }, response.status, response.headers.get('retry-after'));
  }
  // Not our envelope (a proxy's page, an empty body): keep the status, quote a little of the body.
  const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  const message = `HTTP ${response.status}${response.statusText === '' ? '' : ` ${response.statusText}`}${snippet === '' ? '' : `: ${snippet}`}`;
  return errorFromEnvelope({ code: `http_${response.status}`, message, request_id: requestId }, response.status, response.headers.get('retry-after'));
}

function envelopeOf(text: string): { code: string; message: string; request_id?: string } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const error = (parsed as { error?: unknown } | null)?.error as Record<string, unknown> | undefined;
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message, request_id: requestId } = error;
  if (typeof code !== 'string' || typeof message !== 'string') return undefined;
  return typeof requestId === 'string' ? { code, message, request_id: requestId } : { code, message };
}
