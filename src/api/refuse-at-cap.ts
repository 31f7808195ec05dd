/**
 * The 429 of a burst past the in-flight cap, answered on the TCP server before Fastify sees the
 * request: a refusal then costs Node's HTTP parse and one write (about half of what routing, the
 * request and reply objects, hooks and serializers cost), so the last of a burst's refusals is not
 * kept waiting behind the others. Anything this can't answer exactly as the app would goes on to
 * Fastify, whose onRequest hook stays the authoritative check (and takes the request slot).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { hostAllowed, type HostName } from '../config/allowed-hosts.ts';
import type { AirlockMetrics } from '../observability/metrics.ts';
import type { InflightGate } from './context.ts';
import { errorBody, generateRequestId } from './errors.ts';
import { errorStatus } from './error-codes.ts';

/** What the early refusal needs from the app. */
export interface CapRefusalOptions {
  gate: InflightGate;
  metrics: AirlockMetrics;
  /** Allowed `Host` names: a request for another name goes on to the host check (421). */
  allowedHosts: readonly HostName[];
  /** True while the app shuts down: its own hook answers 503 then. */
  closing: () => boolean;
}

/** Route patterns (Fastify's) of the gated requests, by exact path; exec by its shape. */
const EXECUTE = '/api/v1/sandbox/execute';
const CREATE = '/api/v1/sandboxes';
const EXEC = /^\/api\/v1\/sandboxes\/[A-Za-z0-9_-]{1,128}\/exec$/;

/** The route pattern of a gated request, or undefined. */
function gatedRoute(req: IncomingMessage): string | undefined {
  if (req.method !== 'POST') return undefined;
  const path = (req.url ?? '').split('?')[0] ?? '';
  if (path === EXECUTE || path === CREATE) return path;
  return EXEC.test(path) ? '/api/v1/sandboxes/:id/exec' : undefined;
}

/**
 * Puts the early refusal in front of `server`'s request handler (the app's TCP server). Only plain
 * requests are answered here: no `Origin` (CORS headers are the plugin's), a listed `Host`, not
 * during shutdown, and the cap reached; the rest, and every request below the cap, go on untouched.
 */
export function refuseAtCapFirst(server: Server, options: CapRefusalOptions): void {
  const handlers = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  if (handlers.length !== 1) return; // Not the shape this knows how to wrap: Fastify alone refuses.
  const appHandler = handlers[0] as (req: IncomingMessage, res: ServerResponse) => void;
  server.removeListener('request', appHandler);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const { gate } = options;
    if (gate.inflight < gate.max || req.headers.origin !== undefined || options.closing()) return appHandler(req, res);
    const route = gatedRoute(req);
    // Why the host check first: a name not listed (DNS rebinding) gets 421 from the app, nothing else.
    if (route === undefined || !hostAllowed(req.headers.host, options.allowedHosts)) return appHandler(req, res);
    const started = performance.now();
    const id = generateRequestId(req);
    const body = JSON.stringify(errorBody('capacity_exceeded', `too many concurrent sandbox requests (limit ${gate.max}); retry later`, id));
    options.metrics.capacityRefused();
    res.once('finish', () => options.metrics.observeHttp('POST', route, 429, (performance.now() - started) / 1000));
    // The body is not read: drained and dropped, so the connection stays usable.
    req.resume();
    res.writeHead(errorStatus('capacity_exceeded'), {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'retry-after': String(gate.retryAfterSeconds),
      'x-request-id': id,
    });
    res.end(body);
  });
}
