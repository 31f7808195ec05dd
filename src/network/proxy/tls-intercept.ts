/**
 * TLS interception for the hosts a brokered secret is bound to, and no other. After the CONNECT's
 * 200 and its SNI check, the tunnel's client side is answered with a leaf for exactly that host
 * from the sandbox's broker CA, and the HTTP requests inside are read by this proxy's own
 * `http.Server`: each is judged like a plain HTTP request (the brokered swap, the refusal of a
 * placeholder bound elsewhere, the body screen, the answer's redaction) and re-originated over a
 * new TLS connection to the pinned, already-checked address, verified against the system's trust
 * with the host as server name.
 *
 * Why only bound hosts: interception is the least needed to place the credential; everything else
 * stays an end-to-end tunnel the proxy never decrypts.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { judgeBrokered } from './brokered.ts';
import { lateRefusal, screenBody } from './body-screen.ts';
import type { BrokerCa } from './broker-ca.ts';
import { decisionOnce, type DecisionFields, type ProxyContext } from './context.ts';
import { denyResponse, printable } from './deny.ts';
import { formatHost, isIpHost } from './host-name.ts';
import { forwardUpstream } from './http-upstream.ts';
import { parseHostHeader } from './target.ts';

/** The tunnel an intercepted connection belongs to: its checked host, port and pinned address. */
export interface InterceptedTunnel {
  host: string;
  port: number;
  destination: { address: string; family: 4 | 6 };
  /** The CONNECT's decision fields (allowed, pinned). */
  decision: DecisionFields;
}

/** One proxy's interceptor: one http.Server for every intercepted tunnel of its sandbox. */
export interface TlsInterceptor {
  /** Whether `host` is one a brokered secret is bound to (its tunnels are intercepted). */
  intercepts(host: string): boolean;
  /** Takes over a tunnel's client socket; `firstBytes` is its ClientHello, already read. */
  take(client: Duplex, firstBytes: Buffer, tunnel: InterceptedTunnel, decide: (d: DecisionFields) => void): Promise<void>;
  close(): void;
}

/** The interceptor of the proxy with `context`, minting from `ca`. */
export function createTlsInterceptor(context: ProxyContext, ca: BrokerCa): TlsInterceptor {
  const bound = new Set(context.brokered.flatMap((c) => c.hosts));
  const tunnels = new WeakMap<Socket, InterceptedTunnel>();
  const contexts = new Map<string, Promise<tls.SecureContext>>();
  const server = http.createServer({
    headersTimeout: 10_000,
    requestTimeout: 0,
    keepAliveTimeout: 5_000,
    maxHeaderSize: 16 * 1024,
    requireHostHeader: false, // Why: a missing Host is refused by our own check, with a reason on record.
    joinDuplicateHeaders: false,
  });
  server.maxHeadersCount = 100;
  server.timeout = context.idleTimeoutMs;
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const tunnel = tunnels.get(req.socket);
    if (tunnel === undefined) {
      res.destroy();
      return;
    }
    void handleInterceptedRequest(context, tunnel, req, res).catch(() => res.destroy());
  });
  // Why: a CONNECT or an upgrade inside an intercepted tunnel would carry bytes past the request judgement.
  server.on('connect', (_req, socket: Duplex) => socket.destroy());
  server.on('upgrade', (_req, socket: Duplex) => socket.destroy());
  server.on('clientError', (_err, socket: Duplex) => socket.destroy());
  const secureContextFor = (host: string) => {
    let made = contexts.get(host);
    if (made === undefined) {
      made = ca.leafFor(host).then((leaf) => tls.createSecureContext({ cert: leaf.cert, key: leaf.key, minVersion: 'TLSv1.2' }));
      contexts.set(host, made);
      made.catch(() => contexts.delete(host));
    }
    return made;
  };
  return {
    intercepts: (host) => bound.has(host),
    async take(client, firstBytes, tunnel, decide) {
      let secureContext: tls.SecureContext;
      try {
        secureContext = await secureContextFor(tunnel.host);
      } catch {
        decide({ ...tunnel.decision, allowed: false, reason: 'tls_intercept_failed' });
        client.destroy();
        return;
      }
      if (client.destroyed || context.isClosed()) return;
      const secure = new tls.TLSSocket(replaying(client, firstBytes) as Socket, { isServer: true, secureContext, ALPNProtocols: ['http/1.1'] });
      context.trackUpstream(secure);
      secure.once('secure', () => {
        decide(tunnel.decision);
        tunnels.set(secure, tunnel);
        server.emit('connection', secure);
      });
      let handshaken = false;
      const failed = () => {
        if (!handshaken) decide({ ...tunnel.decision, allowed: false, reason: 'tls_intercept_failed' });
        secure.destroy();
        client.destroy();
      };
      secure.once('secure', () => void (handshaken = true));
      // Why a refusal on record: a client that does not trust the broker CA (or pins another) ends here.
      secure.once('error', failed);
      // Why: a client that hangs up mid-handshake (it refused our leaf) is not always an error on this side.
      client.once('end', () => void (handshaken ? undefined : failed()));
      client.once('close', failed);
      secure.once('close', () => client.destroy());
      secure.setTimeout(context.idleTimeoutMs, () => secure.destroy());
    },
    close() {
      server.closeAllConnections();
      contexts.clear();
      ca.dispose();
    },
  };
}

/**
 * The client socket as a stream that first yields `first` (the ClientHello already read), then
 * whatever the client sends. Why not unshift: a TLSSocket over a net.Socket reads its handle
 * directly and never sees bytes put back into the JavaScript stream.
 */
function replaying(client: Duplex, first: Buffer): Duplex {
  const stream = new Duplex({
    read: () => void client.resume(),
    write: (chunk: Buffer, _encoding, done) => void client.write(chunk, done),
    final: (done) => {
      client.end();
      done();
    },
    destroy: (err, done) => {
      client.destroy();
      done(err);
    },
  });
  stream.push(first);
  client.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) client.pause();
  });
  client.once('end', () => stream.push(null));
  client.once('close', () => stream.destroy());
  client.on('error', (err) => stream.destroy(err));
  return stream;
}

async function handleInterceptedRequest(context: ProxyContext, tunnel: InterceptedTunnel, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const recorder = decisionOnce(context);
  const path = req.url ?? '';
  let base: DecisionFields = { kind: 'http', host: tunnel.host, port: tunnel.port, allowed: false, reason: '', method: req.method ?? '', path: printable(path.split('?')[0] ?? '', 2048) };
  res.once('close', () => recorder.decide({ ...base, allowed: false, reason: 'client_closed' }));
  const refuse = (reason: string) => {
    recorder.decide({ ...base, allowed: false, reason });
    req.resume();
    denyResponse(res, tunnel.host, tunnel.port, reason, true);
  };
  // Why origin-form only: an absolute URL could name another host than the one the leaf and the address are for.
  if (!path.startsWith('/')) return refuse('bad_target');
  if (!hostHeaderIs(req, tunnel)) return refuse('host_header_mismatch');
  const brokered = judgeBrokered(context.brokered, req.rawHeaders, path, [tunnel.host]);
  if (brokered.kind !== 'none') base = { ...base, brokered: brokered.names };
  if (brokered.kind === 'refuse') return refuse('brokered_secret_unbound');
  const screened = await screenBody(context.brokered, req, [tunnel.host], lateRefusal(context, recorder, res, () => base));
  if (screened.kind === 'refuse') {
    base = { ...base, brokered: screened.names };
    return refuse('brokered_secret_unbound');
  }
  if (res.destroyed || context.isClosed()) return;
  forwardUpstream(context, req, res, {
    protocol: 'https:',
    connectHost: tunnel.destination.address,
    pinned: tunnel.destination,
    port: tunnel.port,
    hostHeader: tunnel.port === 443 ? formatHost(tunnel.host) : `${formatHost(tunnel.host)}:${tunnel.port}`,
    pathAndQuery: path,
    // Why: the upstream is verified as the host the sandbox asked for; an IP literal is checked against its IP SAN.
    ...(isIpHost(tunnel.host) ? {} : { servername: tunnel.host }),
    ...(brokered.kind === 'inject' ? { rawHeaders: brokered.rawHeaders } : {}),
    ...(screened.body === undefined ? {} : { body: screened.body }),
  }, { ...base, allowed: true, reason: 'allowlisted', address: tunnel.destination.address }, recorder.decide);
}

/** Exactly one Host header, naming the tunnel's host (and its port, or none for 443). */
function hostHeaderIs(req: IncomingMessage, tunnel: InterceptedTunnel): boolean {
  let count = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]?.toLowerCase() === 'host') count += 1;
  if (count !== 1 || req.headers.host === undefined) return false;
  const header = parseHostHeader(req.headers.host, 443);
  return header !== null && header.host === tunnel.host && header.port === tunnel.port;
}
