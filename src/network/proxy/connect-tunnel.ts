/**
 * CONNECT: judge host, port and address before answering; after `200 Connection Established`
 * insist on a TLS ClientHello whose SNI names the CONNECT host (none for an IP literal), and only
 * then open the upstream connection to the pinned address. Anything else closes the tunnel
 * before a single byte leaves the host. A host a brokered secret is bound to is intercepted
 * instead (tls-intercept.ts); every other tunnel is passed through undecrypted.
 */
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { awaitClientHello, type HelloOutcome } from './client-hello.ts';
import { decisionOnce, type DecisionFields, type ProxyContext } from './context.ts';
import { denySocket, printable } from './deny.ts';
import { destinationContext, judgeDestination } from './destination.ts';
import { canonicalHost, isIpHost } from './host-name.ts';
import { findService } from './services.ts';
import { judgeBrokered } from './brokered.ts';
import { parseConnectTarget } from './target.ts';

export async function handleConnect(context: ProxyContext, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const recorder = decisionOnce(context);
  let base: DecisionFields = { kind: 'connect', host: printable(req.url ?? ''), port: 0, allowed: false, reason: '', method: 'CONNECT' };
  socket.once('close', () => recorder.decide({ ...base, allowed: false, reason: 'client_closed' }));
  const parsed = parseConnectTarget(req.url ?? '');
  const refuse = (reason: string, address?: string) => {
    recorder.decide({ ...base, reason, ...(address ? { address } : {}) });
    denySocket(socket, base.host, base.port, reason);
  };
  if (!parsed.ok) return refuse(parsed.reason);
  const { host, port } = parsed.value;
  base = { ...base, host, port };
  // Why before DNS: a placeholder in a tunnel's name (`<placeholder>.attacker.example`) would leave through the resolver.
  const brokered = judgeBrokered(context.brokered, req.rawHeaders, req.url ?? '', [host]);
  if (brokered.kind === 'refuse') {
    base = { ...base, brokered: brokered.names };
    return refuse('brokered_secret_unbound');
  }
  const service = findService(context.services, host, port);
  // Why: services are reached only through HTTP method and path checks, which a tunnel would bypass.
  if (service.kind === 'service') return refuse('service_requires_http');
  if (service.kind === 'unknown_service') return refuse('unknown_service');
  const destination = await judgeDestination(host, port, destinationContext(context));
  if (!destination.allowed) return refuse(destination.reason, destination.address);
  if (socket.destroyed || context.isClosed()) return;
  const pinned: DecisionFields = { ...base, allowed: true, reason: 'allowlisted', address: destination.address };
  socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
  const hello = await awaitClientHello(socket, head, context.clientHelloTimeoutMs);
  const refusal = helloRefusal(hello, host);
  if (refusal !== null) {
    recorder.decide({ ...pinned, allowed: false, reason: refusal });
    socket.destroy(); // Why: after the 200 there is no way to answer; closing is the refusal.
    return;
  }
  if (context.isClosed()) return;
  // Why only here: a bound host's tunnel is the one place the credential must be put in; every other stays blind.
  if (context.interceptor?.intercepts(host) === true) {
    await context.interceptor.take(socket, hello.bytes, { host, port, destination: { address: destination.address, family: destination.family }, decision: pinned }, recorder.decide);
    return;
  }
  openTunnel(context, socket, hello.bytes, destination, pinned, recorder.decide);
}

/** Null when the first bytes are a ClientHello for `host`, else the refusal reason. */
export function helloRefusal(hello: HelloOutcome, host: string): string | null {
  const verdict = hello.verdict;
  switch (verdict.kind) {
    case 'closed': return 'client_closed';
    case 'timeout': return 'tls_timeout';
    case 'not_tls': return 'not_tls';
    case 'malformed': return 'tls_malformed';
    case 'need_more': return 'tls_malformed';
    case 'client_hello': {
      // Why: for an IP literal any SNI names some other host the upstream might route us to.
      if (isIpHost(host)) return verdict.serverName === null ? null : 'sni_mismatch';
      if (verdict.serverName === null) return 'sni_missing';
      return canonicalHost(verdict.serverName) === host ? null : 'sni_mismatch';
    }
  }
}

function openTunnel(
  context: ProxyContext,
  client: Duplex,
  firstBytes: Buffer,
  destination: { address: string; family: 4 | 6 },
  decision: DecisionFields,
  decide: (d: DecisionFields) => void,
): void {
  const upstream = net.connect({ host: destination.address, port: decision.port, family: destination.family });
  context.trackUpstream(upstream);
  const connectTimer = setTimeout(() => upstream.destroy(new Error('connect timeout')), context.connectTimeoutMs);
  const teardown = () => {
    clearTimeout(connectTimer);
    upstream.destroy();
    client.destroy(); // Why: one side failing ends the tunnel; no half-open tunnels linger.
  };
  upstream.once('connect', () => {
    clearTimeout(connectTimer);
    decide(decision);
    upstream.write(firstBytes);
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  });
  upstream.on('error', () => {
    decide({ ...decision, reason: 'upstream_unreachable' });
    teardown();
  });
  upstream.on('close', teardown);
  client.on('close', teardown);
  client.on('error', teardown);
  upstream.setTimeout(context.idleTimeoutMs, teardown);
  if ('setTimeout' in client && typeof client.setTimeout === 'function') client.setTimeout(context.idleTimeoutMs, teardown);
}
