/**
 * The one documented list of the API's error codes: each with its HTTP status and what it means.
 * The service's codes (src/sandbox/errors.ts) get their status here and nowhere else; the codes
 * only the HTTP layer raises (bad JSON, unknown route, wrong method, refused Host…) are listed
 * beside them. docs/openapi.json lists them all, generated from this table.
 */
import { SERVICE_ERROR_CODES, type ServiceErrorCode } from '../sandbox/errors.ts';
import { APPROVAL_REFUSAL_CODES, type ApprovalRefusalCode } from '../approvals/refusal.ts';
import type { AdmissionRefusalCode } from '../admission/refusal.ts';
import type { SignatureRefusalCode } from '../signing/refusal.ts';

/** HTTP status of every service error code (a Record, so a new code without a status won't compile). */
const SERVICE_ERROR_STATUS: Record<ServiceErrorCode, number> = {
  invalid_request: 400,
  policy_mismatch: 409,
  sandbox_not_found: 404,
  sandbox_not_running: 409,
  execution_not_found: 404,
  execution_not_running: 409,
  file_not_found: 404,
  invalid_path: 400,
  payload_too_large: 413,
  runtime_unavailable: 400,
  image_not_found: 400,
  secret_not_found: 400,
  capacity_exceeded: 429,
  filesystem_access_refused: 403,
  workdir_refused: 403,
  image_refused: 403,
  // A host fault, not the caller's: the request may succeed once the host is fixed.
  control_failed: 503,
  shutting_down: 503,
};

/** Where the API raises a service code for more than the service does, what it means there. */
const WIDER_MEANINGS: Partial<Record<ServiceErrorCode, string>> = {
  payload_too_large: 'A request body or a file is larger than its limit; the message gives the limit.',
};

/** Codes raised by the HTTP layer itself, never by the service. */
const HTTP_ERROR_CODES = {
  invalid_json: { status: 400, meaning: 'The body is not valid JSON.' },
  route_not_found: { status: 404, meaning: 'No route has this path.' },
  audit_record_not_found: { status: 404, meaning: 'No audit record has this index, or it is another tenant\'s.' },
  method_not_allowed: { status: 405, meaning: 'The path exists but not for this method; the Allow header lists the ones it has.' },
  unsupported_media_type: { status: 415, meaning: 'The Content-Type is not the one this route accepts; the message and the Accept header name it.' },
  host_not_allowed: { status: 421, meaning: 'The Host header is not one this server answers to (service.allowedHosts; DNS-rebinding guard).' },
  headers_too_large: { status: 431, meaning: 'The request headers are too large.' },
  agent_not_revoked: { status: 404, meaning: 'The agent named is not revoked (nothing to unrevoke).' },
  contract_not_found: { status: 404, meaning: 'The agent named has no behavior contract (or, for a suggestion, no recorded sandboxes to draw one from).' },
  untrusted_issuer: { status: 403, meaning: 'The revocation list is signed by a key not in revocation.trustedKeys.' },
  bad_signature: { status: 403, meaning: 'The revocation list\'s signature does not verify: it was forged or altered.' },
  stale_list: { status: 409, meaning: 'The revocation list is older than revocation.maxListAgeSeconds, issued in the future, or not newer than the last one applied from its issuer.' },
  internal_error: { status: 500, meaning: 'An internal fault, logged server-side; quote the request id.' },
} as const;

/**
 * Codes of admission (src/admission/): who is asking and whether policy lets them. 401 when the
 * request is not (validly) authenticated, 403 when it is and may not.
 */
const ADMISSION_ERROR_CODES: Record<AdmissionRefusalCode | SignatureRefusalCode, { status: number; meaning: string }> = {
  authentication_required: { status: 401, meaning: 'Over TCP every request must be signed (RFC 9421, Ed25519, a registered key); local callers can use the unix socket.' },
  local_user_unknown: { status: 403, meaning: 'The unix-socket caller\'s uid is not a configured local user (auth.localUsers).' },
  peer_credentials_unavailable: { status: 503, meaning: 'The caller\'s uid on the unix socket could not be read; refused rather than guessed.' },
  forbidden: { status: 403, meaning: 'Policy denies the request; the message names the deciding policies (their @id).' },
  contract_violation: { status: 403, meaning: 'The request goes beyond the behavior contract of the agent it is for; the message names the clause (hosts, paths.write, limits.memory_mb, …).' },
  agent_revoked: { status: 403, meaning: 'The calling agent, or the agent a new sandbox is for, is revoked; the message gives when and why.' },
  approval_unavailable: { status: 403, meaning: 'Policy requires a signed approval and this controller has no approval gate.' },
  image_refused: { status: 403, meaning: 'The image policy (imagePolicy) refuses the image: its origin is not allowed, or it needs a signature by a trusted key and none verifies; the message names the rule. Nothing ran.' },
  audit_unavailable: { status: 503, meaning: 'The audit log cannot be written (disk full, permissions, lost connection): the request is refused, not run unrecorded; /health says why.' },
  signature_missing: { status: 401, meaning: 'The request carries no Signature / Signature-Input header.' },
  signature_malformed: { status: 401, meaning: 'The signature headers do not parse, or name an unsupported algorithm, component or parameter.' },
  key_unknown: { status: 401, meaning: 'The keyid names no registered key, or a revoked one.' },
  digest_mismatch: { status: 401, meaning: 'The body does not match its Content-Digest (RFC 9530).' },
  signature_stale: { status: 401, meaning: 'The signature\'s created time is outside the allowed clock skew, or it has expired.' },
  nonce_replayed: { status: 401, meaning: 'The nonce was already used within the window: a replayed request.' },
  replay_cache_full: { status: 503, meaning: 'Too many recent signed requests to remember their nonces; retry shortly.' },
  components_missing: { status: 401, meaning: 'The signature does not cover @method, @target-uri, content-digest (with a body) and created, nonce, keyid, alg.' },
  signature_invalid: { status: 401, meaning: 'The signature does not verify over the request as received.' },
};

/**
 * HTTP status of every approval-gate code (src/approvals/refusal.ts). 403 for every refusal of a
 * decision or of an approval's use, expiry included (the retried request is refused, it is not a
 * gone resource); 404 for an approval the caller may not see; 409 while it waits or once decided.
 */
const APPROVAL_ERROR_STATUS: Record<ApprovalRefusalCode, number> = {
  approval_not_found: 404,
  approval_expired: 403,
  approval_signature_invalid: 403,
  approver_role_required: 403,
  self_approval: 403,
  approval_digest_mismatch: 403,
  approval_nonce_replayed: 403,
  approval_already_decided: 409,
  approval_pending: 409,
  approval_denied: 403,
  approval_reused: 403,
  approval_decision_invalid: 400,
};

/** An error code of the API: its HTTP status and what it means. */
export interface ErrorCodeInfo {
  status: number;
  meaning: string;
}

/** An error code the API answers with. */
export type ErrorCode = ServiceErrorCode | AdmissionRefusalCode | SignatureRefusalCode | ApprovalRefusalCode | keyof typeof HTTP_ERROR_CODES;

/** Every error code the API answers with. */
export const ERROR_CODES: Readonly<Record<ErrorCode, ErrorCodeInfo>> = {
  ...(Object.fromEntries(Object.entries(SERVICE_ERROR_CODES).map(([code, meaning]) => [code, { status: SERVICE_ERROR_STATUS[code as ServiceErrorCode], meaning: WIDER_MEANINGS[code as ServiceErrorCode] ?? meaning }])) as Record<
    ServiceErrorCode,
    ErrorCodeInfo
  >),
  ...ADMISSION_ERROR_CODES,
  ...(Object.fromEntries(Object.entries(APPROVAL_REFUSAL_CODES).map(([code, meaning]) => [code, { status: APPROVAL_ERROR_STATUS[code as ApprovalRefusalCode], meaning }])) as Record<ApprovalRefusalCode, ErrorCodeInfo>),
  ...HTTP_ERROR_CODES,
};

/** HTTP status of an error code. */
export function errorStatus(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

/** The list for documents: one line per code, `code (status): meaning`, sorted by status then code. */
export function errorCodeList(): string[] {
  return Object.entries(ERROR_CODES)
    .sort(([a, x], [b, y]) => x.status - y.status || a.localeCompare(b))
    .map(([code, { status, meaning }]) => `${code} (${status}): ${meaning}`);
}
