/**
 * The `Host` allowlist that closes DNS rebinding: a web page whose name an attacker re-points at
 * 127.0.0.1 reaches the API from the visitor's browser, but its requests still carry the attacker's
 * name in `Host`. Every request whose `Host` is not listed (src/config/allowed-hosts.ts says how
 * entries match) is refused with 421 `host_not_allowed` before routing, so nothing runs for it.
 * Requests that arrive over a unix-domain socket listener are not checked: no browser can send one.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hostAllowed, parseAllowedHosts } from '../config/allowed-hosts.ts';
import { errorBody } from './errors.ts';
import { errorStatus, type ErrorCode } from './error-codes.ts';

/** The error code of a refused `Host`. */
export const HOST_NOT_ALLOWED = 'host_not_allowed' satisfies ErrorCode;

/**
 * True for a request that came in through a unix-domain socket listener (its server's address is a
 * path). Remembered per connection: `address()` is a system call, and a connection's listener never changes.
 */
function overUnixSocket(request: FastifyRequest, seen: WeakMap<object, boolean>): boolean {
  const socket = request.raw.socket;
  const known = seen.get(socket);
  if (known !== undefined) return known;
  const server = (socket as { server?: { address(): unknown } }).server;
  const unix = typeof server?.address() === 'string';
  seen.set(socket, unix);
  return unix;
}

/**
 * Registers the check as an onRequest hook. Call it before any other hook or plugin: it runs first
 * (CORS preflights, 404s and /health included), so a refused request reaches no route.
 */
export function registerHostCheck(app: FastifyInstance, entries: readonly string[]): void {
  const allowed = parseAllowedHosts(entries);
  const unixConnections = new WeakMap<object, boolean>();
  app.addHook('onRequest', async (request, reply) => {
    if (overUnixSocket(request, unixConnections)) return;
    const host = request.headers.host;
    if (hostAllowed(host, allowed)) return;
    // Why: a name not on the list is what a DNS-rebinding page sends; nothing may run for it.
    const shown = host === undefined ? 'no Host header' : `Host "${host.slice(0, 100)}"`;
    reply.code(errorStatus(HOST_NOT_ALLOWED)).header('x-request-id', request.id).header('connection', 'close').type('application/json; charset=utf-8');
    return reply.send(
      errorBody(HOST_NOT_ALLOWED, `${shown} is not one this server answers to; list it in service.allowedHosts of the configuration`, request.id),
    );
  });
}
