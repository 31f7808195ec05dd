/**
 * The egress proxy of one `restricted` sandbox: an HTTP forward proxy and CONNECT tunnel on the
 * host side of that sandbox's veth, the only route the sandbox has. Everything it receives is
 * treated as hostile; every request ends in exactly one recorded decision.
 */
import dns from 'node:dns';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AllowRule } from './allow-entry.ts';
import { createAddressClassifier, createLocalAddressCheck, interfaceAddresses, type AddressClassifier } from './addresses.ts';
import { handleConnect } from './connect-tunnel.ts';
import type { ProxyContext } from './context.ts';
import { findControllerListener, type ListenerEndpoint } from './controller-listeners.ts';
import { handleHttpRequest } from './forward-http.ts';
import { createTlsInterceptor } from './tls-intercept.ts';
import { formatHostPort } from './host-name.ts';
import type { EgressDecision, EgressProxy, EgressProxyOptions, Resolver } from './types.ts';

const DEFAULTS = {
  connectTimeoutMs: 10_000,
  maxConnections: 256,
  clientHelloTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
};

const defaultResolve: Resolver = async (host) => {
  const answers = await dns.promises.lookup(host, { all: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/** Starts the proxy for one sandbox; resolves once it listens. */
export function startEgressProxy(options: EgressProxyOptions): Promise<EgressProxy> {
  return startProxyWithClassifier(options, createAddressClassifier(options.hostAddresses ?? interfaceAddresses));
}

/**
 * Test seam, not exported from index.ts: the same proxy with another address classifier, which is
 * how tests let a *name* reach a loopback server. Production code must use startEgressProxy.
 */
export async function startProxyWithClassifier(options: EgressProxyOptions, classify: AddressClassifier): Promise<EgressProxy> {
  let rules: readonly AllowRule[] = [...options.allow];
  let closed = false;
  let own: ListenerEndpoint | undefined;
  const isLocal = createLocalAddressCheck(options.hostAddresses ?? interfaceAddresses);
  const openSockets = new Set<Duplex>();
  const track = (socket: Duplex) => {
    openSockets.add(socket);
    socket.on('error', () => {}); // Why: a reset from either side must never become an uncaught exception.
    socket.once('close', () => openSockets.delete(socket));
  };
  const record = (fields: Omit<EgressDecision, 'sandboxId' | 'time'>) => {
    try {
      options.onDecision({ sandboxId: options.sandboxId, time: new Date().toISOString(), ...fields });
    } catch {
      // Why: a failing audit sink must not take the proxy (and with it every sandbox request) down.
    }
  };
  const context: ProxyContext = {
    sandboxId: options.sandboxId,
    rules: () => rules,
    services: [...options.services],
    brokered: [...(options.brokered ?? [])],
    responseRedactor: options.responseRedactor,
    resolve: options.resolve ?? defaultResolve,
    classify,
    // Why: the proxy must never carry a sandbox to the controller (or back into itself), whatever it allowlists.
    controllerListener: (address, port) =>
      findControllerListener(own === undefined ? options.controllerListeners() : [own, ...options.controllerListeners()], address, port, isLocal),
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    clientHelloTimeoutMs: options.clientHelloTimeoutMs ?? DEFAULTS.clientHelloTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
    record,
    trackUpstream: (socket: Socket) => track(socket),
    isClosed: () => closed,
  };
  const headersTimeout = options.headersTimeoutMs ?? DEFAULTS.headersTimeoutMs;
  const server = http.createServer({
    headersTimeout,
    requestTimeout: 0, // Why: bodies and responses may stream for long; idleness is bounded by the socket timeout instead.
    keepAliveTimeout: 5_000,
    connectionsCheckingInterval: Math.min(1_000, headersTimeout),
    maxHeaderSize: 16 * 1024,
    requireHostHeader: false, // Why: a missing Host is refused by our own check, with a reason on record.
    joinDuplicateHeaders: false,
  });
  server.maxConnections = options.maxConnections ?? DEFAULTS.maxConnections;
  server.maxHeadersCount = 100;
  server.timeout = context.idleTimeoutMs;
  // Why only with brokered secrets: a proxy with nothing to place never decrypts anything.
  if (options.brokerCa !== undefined && context.brokered.length > 0) context.interceptor = createTlsInterceptor(context, options.brokerCa);
  server.on('connection', (socket: Socket) => track(socket));
  server.on('request', (req, res) => {
    void handleHttpRequest(context, req, res).catch(() => res.destroy());
  });
  server.on('connect', (req, socket: Duplex, head: Buffer) => {
    void handleConnect(context, req, socket, head).catch(() => socket.destroy());
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => answerClientError(error, socket, record));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => {}); // Why: after listening, an accept error must not crash the host process.
  const address = server.address() as AddressInfo;
  own = { address: address.address, port: address.port, what: 'egress proxy' };
  return {
    url: `http://${formatHostPort(address.address, address.port)}`,
    setAllowlist(next: AllowRule[]) {
      rules = [...next];
    },
    async close() {
      if (closed) return;
      closed = true;
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of openSockets) socket.destroy();
      server.closeAllConnections();
      context.interceptor?.close();
      await done;
    },
  };
}

/** Answers garbage with a bare status line and closes; parse errors are on record as `malformed_request`. */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex, record: ProxyContext['record']): void {
  const code = error.code ?? '';
  if (code.startsWith('HPE_')) record({ kind: 'http', host: '', port: 0, allowed: false, reason: 'malformed_request' });
  if (!socket.writable || code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const status = code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
    : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  setTimeout(() => socket.destroy(), 1_000).unref();
}
