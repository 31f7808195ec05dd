/**
 * Host-side fixtures of the network cases: loopback HTTP and TLS servers that record who reached
 * them, and the probe script mounted into sandboxes. All traffic stays on this machine.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { networkInterfaces, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { AddressInfo } from 'node:net';

export interface RecordingServer {
  port: number;
  /** Request paths (HTTP) or accepted connections (TLS) seen so far. */
  seen: string[];
  close(): Promise<void>;
}

function portOf(server: Server | TlsServer): number {
  return (server.address() as AddressInfo).port;
}

function closing(server: Server | TlsServer): () => Promise<void> {
  return () => new Promise((resolve) => {
    (server as Server).closeAllConnections?.();
    server.close(() => resolve());
  });
}

/** An HTTP server on `host` answering `hello <path>`. */
export async function httpServer(host = '127.0.0.1'): Promise<RecordingServer> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    res.end(`hello ${req.url}`);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { port: portOf(server), seen, close: closing(server) };
}

/** A TLS server on 127.0.0.1 with a throwaway self-signed certificate. */
export async function tlsServer(): Promise<RecordingServer> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=test', '-days', '1', '-keyout', `${dir}/k`, '-out', `${dir}/c`], { stdio: 'ignore' });
    const seen: string[] = [];
    const server = createTlsServer({ key: readFileSync(`${dir}/k`), cert: readFileSync(`${dir}/c`) }, (socket) => {
      seen.push(socket.servername || '(no sni)');
      socket.on('error', () => undefined);
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    server.on('connection', (socket) => socket.on('error', () => undefined));
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { port: portOf(server), seen, close: closing(server) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The probe script. */
const PROBE = readFileSync(new URL('./net_probe.py', import.meta.url), 'utf8');

/**
 * The argv that runs the probe on `checks`: the script travels in the argv, not in a grant, so
 * that every runtime runs it the same way (a microvm guest with a grant boots cold every time).
 */
export function probeArgv(checks: object[]): string[] {
  return ['python3', '-c', PROBE, JSON.stringify(checks)];
}

/** The host's first non-loopback IPv4 address (what `full` mode must still refuse). */
export function hostAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal && !a.address.startsWith('10.213.')) return a.address;
  }
  return undefined;
}

/** Parses the probe's JSON lines by id. */
export function probeResults(output: string): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    const parsed = JSON.parse(line) as Record<string, unknown>;
    out.set(String(parsed['id']), parsed);
  }
  return out;
}

export interface PublicPeer {
  address: string;
  port: number;
  /** Client addresses the peer saw, one per request. */
  clients(): string[];
  close(): void;
}

/**
 * A stand-in for "the internet" that stays on this machine: a namespace of its own behind a veth,
 * holding 192.0.31.1 (IANA's own public space, outside every refused range; documentation ranges
 * are refused like private ones, so they can't stand in), routed only on this host for the test,
 * with an HTTP server that answers each request with the client address it saw.
 */
export async function publicPeer(): Promise<PublicPeer> {
  const tag = `${process.pid % 100000}`;
  const ns = `airlock-test-peer-${tag}`;
  const link = `atp${tag}`;
  const port = 18000 + (process.pid % 1000);
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
  ip('netns', 'add', ns);
  const close = () => {
    spawnSync('ip', ['link', 'del', link]);
    spawnSync('ip', ['netns', 'del', ns]);
  };
  try {
    ip('link', 'add', link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('addr', 'add', '192.0.31.2/30', 'dev', link);
    ip('link', 'set', link, 'up');
    ip('-n', ns, 'addr', 'add', '192.0.31.1/30', 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    const log = join(mkdtempSync(join(tmpdir(), 'airlock-peer-')), 'clients');
    writeFileSync(log, '');
    const server = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', PEER_SERVER, String(port), log], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (spawnSync('ip', ['netns', 'exec', ns, 'sh', '-c', `ss -ltn | grep -q :${port}`]).status === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    return {
      address: '192.0.31.1',
      port,
      clients: () => readFileSync(log, 'utf8').split('\n').filter(Boolean),
      close: () => {
        server.kill('SIGKILL');
        close();
        rmSync(dirname(log), { recursive: true, force: true });
      },
    };
  } catch (err) {
    close();
    throw err;
  }
}

const PEER_SERVER = `
import http.server, sys
port, log = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(log, "a") as f: f.write(self.client_address[0] + "\\n")
        body = ("peer saw " + self.client_address[0]).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("192.0.31.1", port), H).serve_forever()
`;
