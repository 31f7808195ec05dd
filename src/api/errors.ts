/**
 * Every refusal leaves as `{"error": {"code", "message", "request_id"}}` with a 4xx status:
 * service errors, schema errors, Fastify's own errors (404, 413, 415, bad JSON) and HTTP parser
 * errors. 5xx is kept for genuine internal faults (logged with their stack, which never leaves the
 * process) and for `control_failed` / `shutting_down`, which errors.ts defines as 503.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ZodError, type z } from 'zod';
import { ServiceError } from '../sandbox/errors.ts';
import { LimitError } from '../sandbox/limits.ts';

/** A refusal raised by the HTTP layer itself. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

/** The error body every refusal carries. */
export interface ErrorBody {
  error: { code: string; message: string; request_id: string };
}

/** Builds the error envelope. */
export function errorBody(code: string, message: string, requestId: string): ErrorBody {
  return { error: { code, message, request_id: requestId } };
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

/** One readable line for the first zod issue, naming where it was: `body.limits.cpu_limit: …`. */
export function describeZodError(error: ZodError, where: string): string {
  const issue = error.issues[0];
  if (issue === undefined) return `${where}: invalid`;
  const path = [where, ...issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))].join('.').replace(/\.\[/g, '[');
  if (issue.code === 'unrecognized_keys') return `${path}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  return `${path}: ${issue.message}`;
}

/** Parses with a zod schema; any failure is a 400 naming the field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query' | 'params'): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ApiError(400, 'invalid_request', describeZodError(parsed.error, where));
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
}

/** Maps any thrown value to status, code and a message safe to send. */
export function mapError(err: unknown): Mapped {
  if (err instanceof ApiError) return { status: err.status, code: err.code, message: err.message, headers: err.headers };
  if (err instanceof ServiceError) {
    const headers: Record<string, string> = {};
    // Back-pressure: a capped request is told when to come back instead of waiting in a queue.
    if (err.status === 429 || err.retryAfterSeconds !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(err.retryAfterSeconds ?? 1)));
    return { status: err.status, code: err.code, message: err.message, headers };
  }
  if (err instanceof ZodError) return { status: 400, code: 'invalid_request', message: describeZodError(err, 'body'), headers: {} };
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

/** Fastify error handler: maps, logs 5xx with the stack, and sends the envelope. */
export function handleError(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const mapped = mapError(err);
  if (mapped.status >= 500) request.log.error({ err }, 'request failed');
  else request.log.info({ code: mapped.code, status: mapped.status }, 'request refused');
  if (reply.sent || reply.raw.headersSent) {
    // A stream already started; the only safe move is to end the connection.
    reply.raw.destroy();
    return;
  }
  reply.code(mapped.status).headers(mapped.headers).header('x-request-id', request.id).type('application/json; charset=utf-8');
  // Messages can quote input (a URL, a value): bounded so a refusal never echoes a huge payload.
  void reply.send(errorBody(mapped.code, mapped.message.slice(0, 500), request.id));
}

/** Fastify not-found handler. */
export function handleNotFound(request: FastifyRequest, reply: FastifyReply): void {
  reply.code(404).header('x-request-id', request.id).type('application/json; charset=utf-8');
  void reply.send(errorBody('route_not_found', `no route ${request.method} ${(request.url.split('?')[0] ?? '').slice(0, 200)}`, request.id));
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
