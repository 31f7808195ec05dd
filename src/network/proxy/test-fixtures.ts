/**
 * Test helpers for the egress proxy tests: real loopback servers, a throwaway self-signed
 * certificate, a proxy with its decisions collected, and raw-socket clients.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { parseAllowlist } from './allowlist.ts';
import { createAddressClassifier, type AddressClassifier } from './addresses.ts';
import { startProxyWithClassifier } from './egress-proxy.ts';
import type { EgressDecision, EgressProxy, EgressProxyOptions } from './types.ts';

export interface TestServer {
  port: number;
  /** TCP connections accepted so far. */
  connections(): number;
  /** TCP connections open now. */
  openConnections(): number;
  close(): Promise<void>;
}

/** A loopback HTTP server; every accepted connection is counted. */
export async function startHttpServer(handler: http.RequestListener): Promise<TestServer> {
  const server = http.createServer(handler);
  return listenCounted(server);
}

/** A self-signed P-256 certificate for CN=test, made with openssl in a temp dir. */
export function makeCertificate(subjectAltName?: string): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-proxy-cert-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-subj', '/CN=test', '-days', '1', '-keyout', join(dir, 'k'), '-out', join(dir, 'c'),
      ...(subjectAltName ? ['-addext', `subjectAltName=${subjectAltName}`] : [])], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'k'), 'utf8'), cert: readFileSync(join(dir, 'c'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A loopback TLS server that answers each line with `echo:<line>` and records the SNI it saw. */
export async function startTlsEchoServer(credentials: { key: string; cert: string }): Promise<TestServer & { serverNames: (string | false | null)[] }> {
  const serverNames: (string | false | null)[] = [];
  const server = tls.createServer(credentials, (socket) => {
    serverNames.push(socket.servername);
    socket.on('error', () => {});
    socket.on('data', (chunk) => socket.write(`echo:${chunk.toString()}`));
  });
  return { ...(await listenCounted(server)), serverNames };
}

/** A loopback HTTPS server (an internal service with an https: URL). */
export async function startHttpsServer(credentials: { key: string; cert: string }, handler: http.RequestListener): Promise<TestServer> {
  return listenCounted(https.createServer(credentials, handler));
}

/** Listens on 127.0.0.1:0 and counts every accepted connection. */
export async function listenCounted(server: net.Server): Promise<TestServer> {
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => accepted,
    openConnections: () => sockets.size,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

export interface TestProxy {
  proxy: EgressProxy;
  port: number;
  decisions: EgressDecision[];
  close(): Promise<void>;
}

/**
 * A proxy on 127.0.0.1:0 with the given allowlist entries; decisions are collected in order.
 * `loopbackIsPublic` swaps in a classifier that treats 127.0.0.1 as public, the only way a test can
 * let a *name* reach a loopback server (every other address keeps its real classification).
 */
export async function startTestProxy(
  allow: string[],
  options: Partial<EgressProxyOptions> = {},
  loopbackIsPublic = false,
): Promise<TestProxy> {
  const decisions: EgressDecision[] = [];
  const real = createAddressClassifier(options.hostAddresses ?? (() => []));
  const classify: AddressClassifier = loopbackIsPublic ? (a) => (a === '127.0.0.1' ? null : real(a)) : real;
  const proxy = await startProxyWithClassifier({
    sandboxId: 'sbx-test',
    host: '127.0.0.1',
    port: 0,
    allow: parseAllowlist(allow),
    services: [],
    hostAddresses: () => [],
    controllerListeners: () => [],
    onDecision: (d) => decisions.push(d),
    ...options,
  }, classify);
  return { proxy, port: Number(new URL(proxy.url).port), decisions, close: () => proxy.close() };
}

export interface SimpleResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Sends an absolute-form request through the proxy with http.request. */
export function proxyRequest(proxyPort: number, target: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const url = new URL(target);
    const req = http.request({
      host: '127.0.0.1', port: proxyPort, method: init.method ?? 'GET', path: target, agent: false,
      headers: { host: url.host, ...init.headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Writes raw bytes to the proxy and collects everything until the proxy closes (or `waitMs` passes). */
export function rawExchange(proxyPort: number, data: string | Buffer, waitMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(proxyPort, '127.0.0.1', () => socket.write(data));
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(finish, waitMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', finish);
    socket.on('error', finish);
  });
}

/** Opens a CONNECT tunnel; resolves with the socket and the proxy's response head. */
export function openConnect(proxyPort: number, authority: string): Promise<{ socket: net.Socket; head: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(proxyPort, '127.0.0.1', () => {
      socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
    });
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      const rest = buffered.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      resolve({ socket, head: buffered.subarray(0, end).toString('latin1') });
    };
    socket.on('data', onData);
    socket.on('error', reject);
    socket.on('close', () => resolve({ socket, head: buffered.toString('latin1') }));
  });
}

/** Resolves when the socket closes (true) or after `ms` (false). */
export function closedWithin(socket: net.Socket, ms: number): Promise<boolean> {
  if (socket.destroyed || socket.closed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.resume();
  });
}

/** Waits until `predicate` holds, polling; throws after `ms`. */
export async function waitFor(predicate: () => boolean, ms = 3000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
