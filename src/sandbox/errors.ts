/**
 * Errors the sandbox service raises for callers (API, CLI, SDK) to map onto their own wire
 * format. Each has a stable string code and carries no transport detail: the API maps codes to
 * HTTP statuses in one place (src/api/error-codes.ts).
 */
import { RefusedControlError } from '../host/control-error.ts';

/** Every code the service raises, with what it means. */
export const SERVICE_ERROR_CODES = {
  invalid_request: 'Malformed or out-of-range input; nothing was changed.',
  policy_mismatch: "The requested policy hash doesn't match the active policy.",
  sandbox_not_found: 'No such sandbox (or it has ended and been forgotten).',
  sandbox_not_running: 'The sandbox exists but is not in a state that allows the operation.',
  execution_not_found: 'No running one-shot execution with this id, and none that ended recently.',
  execution_not_running: 'The one-shot execution has already ended; its result went to the request that started it.',
  file_not_found: "A path inside the sandbox doesn't exist.",
  invalid_path: 'A path was refused (escapes, is a directory, is a symlink loop, permission).',
  payload_too_large: 'A file is larger than the transfer limit.',
  runtime_unavailable: "The runtime isn't available on this host.",
  image_not_found: "The image doesn't exist.",
  secret_not_found: 'A secret the request names is held by no secrets provider; nothing ran.',
  capacity_exceeded: 'The concurrent-sandbox cap is reached: retry later.',
  filesystem_access_refused: "A host path may not be granted (never-grantable, outside the grant roots, symlink, socket, unreadable for the sandbox's uid), whichever check noticed; nothing ran.",
  workdir_refused: "The working directory can't be used in the image; nothing ran.",
  image_refused: 'The image policy (imagePolicy) refuses the image: its origin is not allowed, or a signature by a trusted key is required and none verifies; the message names the rule. Nothing ran.',
  control_failed: 'A hardening control could not be applied; the sandbox did not start.',
  shutting_down: 'The service is shutting down.',
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
}
