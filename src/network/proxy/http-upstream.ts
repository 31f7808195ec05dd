/**
 * Sends one judged request upstream and streams the answer back. The upstream socket goes to the
 * pinned address only (a fixed lookup), and the decision is recorded once the connection is made
 * or has failed, so a failure is on record as `upstream_unreachable` (answered 502).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import https from 'node:https';
import type { LookupFunction, Socket } from 'node:net';
import { denyResponse } from './deny.ts';
import type { DecisionFields, ProxyContext } from './context.ts';
import { endToEndHeaders, flatten, framingHeaders } from './hop-by-hop.ts';
import type { ResponseRedactor } from './types.ts';

export interface UpstreamTarget {
  protocol: 'http:' | 'https:';
  /** Where the TCP connection goes: a pinned IP, or a configured service's host. */
  connectHost: string;
  /** When set, every lookup answers this address and nothing else. */
  pinned?: { address: string; family: 4 | 6 };
  port: number;
  hostHeader: string;
  pathAndQuery: string;
  /** TLS server name for https upstreams. */
  servername?: string;
  /** Trust anchors for https upstreams. */
  ca?: string;
  /** The request's raw headers as forwarded (default: as received), e.g. with a brokered secret swapped in. */
  rawHeaders?: string[];
  /** The body to send (default: `req` itself), e.g. screened for brokered placeholders. */
  body?: Readable;
}

/** Forwards `req` to `target`; `decision` is what gets recorded once the upstream is connected. */
export function forwardUpstream(
  context: ProxyContext,
  req: IncomingMessage,
  res: ServerResponse,
  target: UpstreamTarget,
  decision: DecisionFields,
  decide: (d: DecisionFields) => void,
): void {
  const headers = flatten([['Host', target.hostHeader], ...endToEndHeaders(target.rawHeaders ?? req.rawHeaders), ...framingHeaders(req.headers)]);
  const upstream = (target.protocol === 'https:' ? https : http).request({
    host: target.connectHost,
    port: target.port,
    method: req.method,
    path: target.pathAndQuery,
    headers,
    agent: false, // Why: no pooled connection may outlive this request's judgement or be shared across sandboxes.
    ...(target.pinned ? { lookup: pinnedLookup(target.pinned) } : {}),
    ...(target.servername ? { servername: target.servername } : {}),
    ...(target.ca ? { ca: target.ca } : {}),
  });
  let failed = false;
  const fail = (err?: Error) => {
    if (failed) return; // Why: destroy() re-enters through 'error'; the 502 already written must not be cut off.
    failed = true;
    clearTimeout(connectTimer);
    const reason = isCertificateError(err) ? 'upstream_certificate_invalid' : 'upstream_unreachable';
    decide({ ...decision, allowed: true, reason });
    upstream.destroy();
    if (res.writableEnded) return;
    if (!res.headersSent && !res.destroyed) denyResponse(res, decision.host, decision.port, reason, true);
    else res.destroy();
  };
  const connectTimer = setTimeout(() => fail(), context.connectTimeoutMs);
  upstream.on('socket', (socket: Socket) => {
    context.trackUpstream(socket);
    socket.setTimeout(context.idleTimeoutMs, () => socket.destroy());
    // Why: for https the upstream counts as reached only once its certificate has been verified.
    socket.once(target.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      clearTimeout(connectTimer);
      decide(decision);
    });
  });
  upstream.on('error', fail);
  upstream.on('response', (answer) => relayResponse(answer, res, upstream, context.responseRedactor));
  req.on('error', () => upstream.destroy());
  res.on('close', () => {
    clearTimeout(connectTimer);
    upstream.destroy(); // Why: a client that goes away must not leave an upstream connection behind.
  });
  const body = target.body ?? req;
  // Why: a body cut off (a placeholder found late) must end the upstream request, never complete it.
  body.once('error', () => upstream.destroy());
  body.pipe(upstream);
}

/** Whether an upstream failed TLS certificate verification (OpenSSL's and Node's verify codes). */
export function isCertificateError(err: Error | undefined): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
  return /CERT|SIGNATURE|ISSUER|ALTNAME|SELF_SIGNED/.test(code);
}

function relayResponse(answer: IncomingMessage, res: ServerResponse, upstream: http.ClientRequest, redactor: ResponseRedactor | undefined): void {
  try {
    const headers = endToEndHeaders(answer.rawHeaders).map(([name, value]): [string, string] => [name, redactor === undefined ? value : redactor.text(value)]);
    // Why chunked when redacting: a marker is not the value's length, so the upstream's Content-Length no longer holds.
    const framing = redactor === undefined || answer.headers['content-length'] === undefined ? framingHeaders(answer.headers) : [['Transfer-Encoding', 'chunked'] as [string, string]];
    res.writeHead(answer.statusCode ?? 502, flatten([...headers, ...framing]));
  } catch {
    upstream.destroy();
    res.destroy();
    return;
  }
  answer.on('error', () => res.destroy());
  answer.on('close', () => {
    if (!answer.complete) res.destroy(); // Why: a truncated upstream body must not look complete to the client.
  });
  if (redactor === undefined) {
    answer.pipe(res);
    return;
  }
  const stream = redactor.stream();
  answer.pipe(new Transform({ transform: (chunk: Buffer, _enc, done) => done(null, stream.push(chunk)), flush: (done) => done(null, stream.end()) })).pipe(res);
}

function pinnedLookup(pinned: { address: string; family: 4 | 6 }): LookupFunction {
  // Why: connect to the address that was judged, never to a fresh answer for the name.
  return ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address: pinned.address, family: pinned.family }]);
    else callback(null, pinned.address, pinned.family);
  }) as LookupFunction;
}
