/**
 * HTTPS upstreams at "public" addresses of a network namespace of the test's own, for tests of the
 * egress proxy's HTTPS path: the proxy refuses every address of this host (and every private
 * range), so a local upstream has to live elsewhere. A veth joins the namespace to the host; each
 * upstream is a Python HTTPS server bound to one address with its own certificate, answering
 * every request with what it received (method, path, headers, body) and printing the same as one
 * JSON line. Nothing outside the host is contacted: the addresses are routed to the veth alone.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** What an upstream received. */
export interface UpstreamRequest {
  address: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** One upstream: where it listens and the certificate it presents. */
export interface UpstreamSpec {
  address: string;
  cert: string;
  key: string;
}

export interface HttpsUpstreams {
  port: number;
  /** Every request received so far, in order. */
  readonly seen: UpstreamRequest[];
  close(): void;
}

const SERVER = `
import json, socketserver, ssl, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
port = int(sys.argv[1])
class Server(ThreadingHTTPServer):
    # HTTPServer.server_bind looks its address up in DNS, which the namespace has none of (seconds of timeouts).
    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]
class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def handle_one(self):
        n = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(n).decode('latin1') if n else ''
        seen = {'address': self.server.server_address[0], 'method': self.command, 'path': self.path, 'headers': {k.lower(): v for k, v in self.headers.items()}, 'body': body}
        print(json.dumps(seen), flush=True)
        out = json.dumps(seen).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('X-Echo', self.headers.get('Authorization') or '')
        self.send_header('Content-Length', str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    do_GET = do_POST = handle_one
servers = []
for spec in sys.argv[2:]:
    address, cert, key = spec.split(',')
    httpd = Server((address, port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
print('ready', flush=True)
sys.stdin.read()
`;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * A namespace `name` holding `upstreams` (each address /32, routed from the host over a veth),
 * served on `port`. `close()` ends the servers and removes namespace, veth and routes.
 */
export async function startHttpsUpstreams(name: string, upstreams: UpstreamSpec[], port = 8443): Promise<HttpsUpstreams> {
  const hostLink = `${name.slice(0, 12)}h`;
  const nsLink = `${name.slice(0, 12)}n`;
  const dir = mkdtempSync(join(tmpdir(), 'airlock-upstream-'));
  let server: ChildProcess | undefined;
  const close = () => {
    server?.kill('SIGKILL');
    try {
      ip('netns', 'del', name); // Removes the veth pair (and so the host routes) with it.
    } catch {
      // Never made.
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    ip('netns', 'add', name);
    ip('link', 'add', hostLink, 'type', 'veth', 'peer', 'name', nsLink, 'netns', name);
    ip('link', 'set', hostLink, 'up');
    ip('-n', name, 'link', 'set', 'lo', 'up');
    ip('-n', name, 'link', 'set', nsLink, 'up');
    for (const u of upstreams) {
      ip('-n', name, 'addr', 'add', `${u.address}/32`, 'dev', nsLink);
      ip('route', 'add', `${u.address}/32`, 'dev', hostLink);
    }
    // Replies go back over the veth, whatever host address the proxy's connection came from.
    ip('-n', name, 'route', 'add', 'default', 'dev', nsLink);
    const specs = upstreams.map((u, i) => {
      writeFileSync(join(dir, `${i}.crt`), u.cert);
      writeFileSync(join(dir, `${i}.key`), u.key, { mode: 0o600 });
      return `${u.address},${join(dir, `${i}.crt`)},${join(dir, `${i}.key`)}`;
    });
    const child = spawn('ip', ['netns', 'exec', name, '/usr/bin/python3', '-c', SERVER, String(port), ...specs], { stdio: ['pipe', 'pipe', 'inherit'] });
    server = child;
    const seen: UpstreamRequest[] = [];
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the upstream servers did not start')), 30_000);
      child.once('exit', (code) => reject(new Error(`the upstream servers exited (${code})`)));
      lines.on('line', (line) => {
        if (line === 'ready') {
          clearTimeout(timer);
          resolve();
        } else seen.push(JSON.parse(line) as UpstreamRequest);
      });
    });
    return { port, seen, close };
  } catch (err) {
    close();
    throw err;
  }
}
