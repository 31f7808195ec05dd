/**
 * Errors the sandbox service raises for callers (API, CLI, SDK) to map onto their own wire
 * format. Each has a stable string code; the API turns them into 4xx statuses.
 */
import { RefusedControlError } from '../host/control-error.ts';

export const SERVICE_ERROR_CODES = {
  /** Malformed or out-of-range input; nothing was changed. */
  invalid_request: 400,
  /** The requested policy hash doesn't match the active policy. */
  policy_mismatch: 409,
  /** No such sandbox (or it has ended and been forgotten). */
  sandbox_not_found: 404,
  /** The sandbox exists but is not in a state that allows the operation. */
  sandbox_not_running: 409,
  /** No running one-shot execution with this id, and none that ended recently. */
  execution_not_found: 404,
  /** The one-shot execution has already ended; its result went to the request that started it. */
  execution_not_running: 409,
  /** A path inside the sandbox doesn't exist. */
  file_not_found: 404,
  /** A path was refused (escapes, is a directory, is a symlink loop, permission). */
  invalid_path: 400,
  /** A file is larger than the transfer limit. */
  payload_too_large: 413,
  /** The runtime isn't available on this host. */
  runtime_unavailable: 400,
  /** The image doesn't exist. */
  image_not_found: 400,
  /** The concurrent-sandbox cap is reached: retry later. */
  capacity_exceeded: 429,
  /** A host path may not be granted (symlink, socket, unreadable for the sandbox's uid, never-grantable); nothing ran. */
  filesystem_access_refused: 403,
  /** The working directory can't be used in the image; nothing ran. */
  workdir_refused: 403,
  /** A hardening control could not be applied; the sandbox did not start. */
  control_failed: 503,
  /** The service is shutting down. */
  shutting_down: 503,
} as const;
export type ServiceErrorCode = keyof typeof SERVICE_ERROR_CODES;

/**
 * A control's refusal of the request as a ServiceError (`<control>_refused`); anything else as it
 * is. The message keeps the control's name first (`filesystem_access: cannot grant …`).
 */
export function refusalAsServiceError(err: unknown): unknown {
  return err instanceof RefusedControlError ? new ServiceError(`${err.control}_refused`, err.message, { cause: err }) : err;
}

/** An error meant for the caller: code, human message, optional retry hint. */
export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  readonly code: ServiceErrorCode;
  /** Seconds after which retrying may succeed (capacity_exceeded). */
  readonly retryAfterSeconds: number | undefined;
  constructor(code: ServiceErrorCode, message: string, options?: { retryAfterSeconds?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }

  /** HTTP status for this error. */
  get status(): number {
    return SERVICE_ERROR_CODES[this.code];
  }
}
