/**
 * Every refusal leaves as `{"error": {"code", "message", "request_id"}}` with a 4xx status:
 * service errors, schema errors, Fastify's own errors (404/405, 413 with the limit, 415 with the
 * expected type, bad JSON) and HTTP parser errors. Validation errors add `details`: every problem
 * as `{path, message}`, not just the first. 5xx is kept for genuine internal faults (logged with
 * their stack, which never leaves the process) and for `control_failed` / `shutting_down` (503).
 * Which status each code gets is listed once, in src/api/error-codes.ts.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ZodError, type z } from 'zod';
import { ServiceError } from '../sandbox/errors.ts';
import { errorStatus, type ErrorCode } from './error-codes.ts';
import { LimitError } from '../sandbox/limits.ts';
import { AdmissionRefusal } from '../admission/refusal.ts';
import { ApprovalPending } from './approval-pending.ts';
import { ApprovalRefusal } from '../approvals/refusal.ts';
import { allowedMethods, routeOf } from './route-lookup.ts';

/** What a request signature must cover here, as an RFC 9421 Accept-Signature field. */
const ACCEPT_SIGNATURE = 'sig1=("@method" "@target-uri" "content-digest");created;nonce;keyid;alg="ed25519"';

/** One problem of a refused request: where (`body.limits.cpu_limit`) and what. */
export interface ErrorDetail {
  path: string;
  message: string;
}

/** A refusal raised by the HTTP layer itself; its status is its code's (src/api/error-codes.ts). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly code: ErrorCode;
  readonly headers: Record<string, string>;
  /** Every problem found, when there can be several (validation). */
  readonly details: ErrorDetail[] | undefined;
  constructor(code: ErrorCode, message: string, headers: Record<string, string> = {}, details?: ErrorDetail[]) {
    super(message);
    this.status = errorStatus(code);
    this.code = code;
    this.headers = headers;
    this.details = details;
  }
}

/** The error body every refusal carries; `details` only where a request had problems to list. */
export interface ErrorBody {
  error: { code: string; message: string; request_id: string; details?: ErrorDetail[] };
}

/** Builds the error envelope. */
export function errorBody(code: string, message: string, requestId: string, details?: ErrorDetail[]): ErrorBody {
  return { error: { code, message, request_id: requestId, ...(details === undefined ? {} : { details }) } };
}

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{8,128}$/;

/**
 * Request ids: an incoming `x-request-id` is kept for correlation only when it is short and plain;
 * anything else is replaced, so a client can't inject text into log lines or response headers.
 */
export function generateRequestId(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID();
}

/** Every zod issue as `{path, message}`, the path naming where it was: `body.limits.cpu_limit`. */
export function zodDetails(error: ZodError, where: string): ErrorDetail[] {
  if (error.issues.length === 0) return [{ path: where, message: 'invalid' }];
  return error.issues.map((issue) => {
    const path = [where, ...issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))].join('.').replace(/\.\[/g, '[');
    if (issue.code === 'unrecognized_keys') return { path, message: `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}` };
    return { path, message: issue.message };
  });
}

/** A 400 listing every zod issue: each in `details`, all of them in the message. */
export function validationError(error: ZodError, where: string): ApiError {
  const details = zodDetails(error, where);
  return new ApiError('invalid_request', details.map((d) => `${d.path}: ${d.message}`).join('; '), {}, details);
}

/** Parses with a zod schema; any failure is a 400 naming every field that was wrong. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query' | 'params'): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationError(parsed.error, where);
  return parsed.data;
}

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_BAD_URL: 'invalid_request',
  FST_ERR_NOT_FOUND: 'route_not_found',
};

interface Mapped {
  status: number;
  code: string;
  message: string;
  headers: Record<string, string>;
  details?: ErrorDetail[] | undefined;
}

/** Maps any thrown value to status, code and a message safe to send. */
export function mapError(err: unknown): Mapped {
  if (err instanceof ApiError) return { status: err.status, code: err.code, message: err.message, headers: err.headers, details: err.details };
  if (err instanceof ServiceError) {
    const status = errorStatus(err.code);
    const headers: Record<string, string> = {};
    // Back-pressure: a capped request is told when to come back instead of waiting in a queue.
    if (status === 429 || err.retryAfterSeconds !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(err.retryAfterSeconds ?? 1)));
    return { status, code: err.code, message: err.message, headers };
  }
  if (err instanceof AdmissionRefusal) {
    const status = errorStatus(err.code);
    // RFC 9421 §5.1: tell an unauthenticated client what a signature must cover.
    const headers: Record<string, string> = status === 401 ? { 'accept-signature': ACCEPT_SIGNATURE } : {};
    return { status, code: err.code, message: err.message, headers };
  }
  // An approval attached to a retried request that does not fit (redeemed by admission).
  if (err instanceof ApprovalRefusal) return { status: errorStatus(err.code), code: err.code, message: err.message, headers: {} };
  if (err instanceof ZodError) return mapError(validationError(err, 'body'));
  if (err instanceof LimitError) return { status: 400, code: 'invalid_request', message: `${err.field}: ${err.message}`, headers: {} };
  const fe = err as Partial<FastifyError> | null;
  const status = typeof fe?.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    const code = (fe?.code !== undefined ? FASTIFY_CODES[fe.code] : undefined) ?? (status === 413 ? 'payload_too_large' : status === 415 ? 'unsupported_media_type' : 'invalid_request');
    const message = code === 'invalid_json' ? 'body is not valid JSON' : typeof fe?.message === 'string' && fe.message !== '' ? fe.message : 'bad request';
    return { status, code, message, headers: {} };
  }
  // Internal details (messages, stacks) stay in the log; the client gets the request id to quote.
  return { status: 500, code: 'internal_error', message: 'internal error; quote the request id when reporting it', headers: {} };
}

/**
 * Fastify's own 413 and 415 say neither the limit nor what is accepted: the route's body limit and
 * content type (route table) are added to the message.
 */
function withRouteLimits(mapped: Mapped, err: unknown, request: FastifyRequest): Mapped {
  if (err instanceof ApiError || err instanceof ServiceError || err instanceof AdmissionRefusal || err instanceof ApprovalRefusal) return mapped;
  if (mapped.code === 'payload_too_large') {
    const limit = request.routeOptions.bodyLimit;
    if (limit !== undefined) return { ...mapped, message: `request body is larger than this route accepts (limit ${limit} bytes)` };
  }
  if (mapped.code === 'unsupported_media_type') {
    const expected = routeOf(request.method, request.routeOptions.url)?.body?.contentType ?? 'application/json';
    const given = request.headers['content-type'];
    return { ...mapped, message: `Content-Type ${given === undefined ? '(none)' : `"${given.slice(0, 100)}"`} is not accepted here; send ${expected}`, headers: { ...mapped.headers, accept: expected } };
  }
  return mapped;
}

/** Fastify error handler: maps, logs 5xx with the stack, and sends the envelope. */
export function handleError(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  if (err instanceof ApprovalPending && !reply.sent) {
    reply.code(202).header('x-request-id', request.id).header('cache-control', 'no-store').type('application/json; charset=utf-8');
    void reply.send({ status: 'approval_required', approval: err.approval, action_digest: err.actionDigest });
    return;
  }
  const mapped = withRouteLimits(mapError(err), err, request);
  if (mapped.status >= 500) request.log.error({ err }, 'request failed');
  else request.log.info({ code: mapped.code, status: mapped.status }, 'request refused');
  if (reply.sent || reply.raw.headersSent) {
    // A stream already started; the only safe move is to end the connection.
    reply.raw.destroy();
    return;
  }
  reply.code(mapped.status).headers(mapped.headers).header('x-request-id', request.id).type('application/json; charset=utf-8');
  // Messages can quote input (a URL, a value): bounded so a refusal never echoes a huge payload.
  const details = mapped.details?.slice(0, 100).map((d) => ({ path: d.path.slice(0, 200), message: d.message.slice(0, 300) }));
  void reply.send(errorBody(mapped.code, mapped.message.slice(0, 2000), request.id, details));
}

/** Fastify not-found handler: 405 with `Allow` for a known path asked with another method, else 404. */
export function handleNotFound(request: FastifyRequest, reply: FastifyReply): void {
  const path = request.url.split('?')[0] ?? '';
  reply.header('x-request-id', request.id).type('application/json; charset=utf-8');
  const allow = allowedMethods(path);
  if (allow.length > 0) {
    reply.code(errorStatus('method_not_allowed')).header('allow', allow.join(', '));
    void reply.send(errorBody('method_not_allowed', `${request.method} is not allowed on ${path.slice(0, 200)}; allowed: ${allow.join(', ')}`, request.id));
    return;
  }
  reply.code(errorStatus('route_not_found'));
  void reply.send(errorBody('route_not_found', `no route ${request.method} ${path.slice(0, 200)}`, request.id));
}

/** HTTP-parser-level errors (malformed request line, headers too large): answered, never a crash. */
export function handleClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable) return;
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const body = JSON.stringify(errorBody(tooLarge ? 'headers_too_large' : 'invalid_request', tooLarge ? 'request headers too large' : 'malformed HTTP request', randomUUID()));
  socket.end(
    `HTTP/1.1 ${tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
