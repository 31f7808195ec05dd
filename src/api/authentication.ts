/**
 * Authentication of every API request but the public ones (/health, /openapi.json, and /metrics
 * when configured so): the
 * request's transport is classified (unix-socket peer, or TCP with its signature) and handed to the
 * admission Authenticator, which sets `request.caller` or refuses (401/403) before any route runs.
 * In two halves: on arrival (onRequest), everything the headers decide — who, and the signature
 * over the headers — so an unauthenticated request is refused before its body is read or takes an
 * upload slot; once the body is read (preValidation), its RFC 9530 digest over the exact bytes
 * received (which the JSON parser here keeps) and the nonce.
 */
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Authenticator, PendingAuthentication, Transport } from '../admission/authenticate.ts';
import './caller-decoration.ts';
import { ROUTES } from './route-table.ts';

/** Reads the uid of a unix-socket connection's peer; undefined for a connection not on the socket. */
export interface PeerLookup {
  lookup(socket: Socket): Promise<{ uid: number } | undefined>;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The body exactly as received (JSON routes), for the signature's content digest. */
    rawBody: Buffer | undefined;
    /** Authentication begun on arrival, finished once the body is in. */
    pendingAuthentication: PendingAuthentication | undefined;
  }
}

/** Routes anyone who reaches the listener may call: they reveal nothing tenant-specific. */
const PUBLIC_ROUTES: readonly string[] = [ROUTES.health, ROUTES.openapi].map((r) => `${r.method} ${r.url}`);
const METRICS_ROUTE = `${ROUTES.metrics.method} ${ROUTES.metrics.url}`;

/** True for 127.0.0.0/8 and ::1 (also as an IPv4-mapped address). */
function isLoopbackPeer(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.replace(/^::ffff:/i, '');
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

async function transportOf(request: FastifyRequest, peers: PeerLookup | undefined): Promise<Transport> {
  const socket = request.raw.socket;
  if (peers !== undefined) {
    let peer: { uid: number } | undefined;
    let onSocket = true;
    try {
      peer = await peers.lookup(socket);
      onSocket = peer !== undefined;
    } catch {
      // Why: a connection on the socket whose uid could not be read is refused, not guessed.
      peer = undefined;
    }
    if (onSocket) return { kind: 'unix-socket', peerUid: peer?.uid };
  }
  const scheme = (socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
  // Why the Host header may be trusted here: the host check (src/api/host-check.ts) already
  // refused every name not configured, so the target URI is rebuilt from allowed parts only.
  const targetUri = `${scheme}://${request.headers.host ?? ''}${request.raw.url ?? request.url}`;
  return {
    kind: 'tcp',
    // Why the remote address: the kernel never delivers a loopback source from another host.
    loopback: isLoopbackPeer(socket.remoteAddress),
    request: { method: request.method, targetUri, headers: request.headers },
    declaresBody: declaresBody(request),
  };
}

/** Whether the request's framing announces a body (HTTP/1.1: a Content-Length above 0, or chunked). */
function declaresBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Registers the raw-body JSON parser and the authentication hook. */
export function registerAuthentication(app: FastifyInstance, authenticator: Authenticator, peers: PeerLookup | undefined, publicMetrics: boolean): void {
  // Why /metrics is not public by default: its egress series name the hosts every tenant's
  // sandboxes contacted. A scraper that can't sign is let in by configuration, knowingly.
  const open = new Set(publicMetrics ? [...PUBLIC_ROUTES, METRICS_ROUTE] : PUBLIC_ROUTES);
  app.decorateRequest('caller', undefined);
  app.decorateRequest('rawBody', undefined);
  app.decorateRequest('pendingAuthentication', undefined);
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const bytes = body as Buffer;
    request.rawBody = bytes;
    void parseJson(request, bytes.toString('utf8'), done);
  });
  app.addHook('onRequest', async (request) => {
    if (open.has(`${request.method} ${request.routeOptions.url ?? ''}`)) return;
    request.pendingAuthentication = await authenticator.begin(await transportOf(request, peers));
  });
  app.addHook('preValidation', async (request) => {
    const pending = request.pendingAuthentication;
    if (pending === undefined) return;
    const body = request.rawBody ?? (Buffer.isBuffer(request.body) ? request.body : undefined);
    request.caller = await pending.complete(body);
  });
}
