/**
 * T14: real unix sockets listening on the host while a sandbox runs — a pathname and an abstract
 * one owned by root (this process), and a pathname and an abstract one owned by another uid (a
 * listener started as that uid) — each proven reachable from the host before the sandbox starts,
 * so "unreachable from the sandbox" can't pass because nothing was listening. Each listener
 * counts the connections it accepts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** A uid outside every sandbox range and not root: "another local user". */
export const OTHER_UID = 65534;

/** One listening host socket. */
export interface HostSocket {
  /** As the probe takes it: a path, or `@name` for an abstract socket. */
  name: string;
  owner: 'root' | 'other uid';
  kind: 'path' | 'abstract';
  /** Connections accepted so far (the host's own readiness check included). */
  connections(): number;
}

/** The four sockets and how to stop them. */
export interface HostSockets {
  sockets: HostSocket[];
  close(): Promise<void>;
}

/** Python listener run as {@link OTHER_UID}: prints "ready" once listening, "conn" per accept. */
const LISTENER = String.raw`
import socket, sys
name = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(("\0" + name[1:]) if name.startswith("@") else name)
s.listen(16)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    print("conn", flush=True)
    c.close()
`;

/** Starts the four listeners and checks each accepts a connection from the host. */
export async function startHostSockets(): Promise<HostSockets> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-t14-'));
  // The other uid must be able to create its socket in the directory.
  chmodSync(dir, 0o1777);
  const tag = randomBytes(6).toString('hex');
  const servers: Server[] = [];
  const children: ChildProcess[] = [];
  const sockets: HostSocket[] = [];
  try {
    for (const kind of ['path', 'abstract'] as const) {
      const name = kind === 'path' ? join(dir, `root-${tag}.sock`) : `@airlock-t14-root-${tag}`;
      let count = 0;
      const server = createServer((s) => {
        count++;
        s.destroy();
      });
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(kind === 'path' ? name : `\0${name.slice(1)}`, resolve);
      });
      sockets.push({ name, owner: 'root', kind, connections: () => count });
    }
    for (const kind of ['path', 'abstract'] as const) {
      const name = kind === 'path' ? join(dir, `other-${tag}.sock`) : `@airlock-t14-other-${tag}`;
      let count = 0;
      const child = spawn('python3', ['-c', LISTENER, name], { uid: OTHER_UID, gid: OTHER_UID, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      const lines = createInterface({ input: child.stdout! });
      const ready = new Promise<void>((resolve, reject) => {
        child.once('exit', (code, signal) => reject(new Error(`listener as uid ${OTHER_UID} exited (${code ?? signal}) before it was ready`)));
        lines.on('line', (line) => {
          if (line === 'ready') resolve();
          if (line === 'conn') count++;
        });
      });
      await ready;
      sockets.push({ name, owner: 'other uid', kind, connections: () => count });
    }
    // Readiness and reachability from the host: each accepts one connection before the sandbox runs.
    for (const s of sockets) await reachFromHost(s);
  } catch (err) {
    await stop(servers, children, dir);
    throw err;
  }
  return { sockets, close: () => stop(servers, children, dir) };
}

/** Connects once from the host and waits until the listener has counted it. */
async function reachFromHost(s: HostSocket): Promise<void> {
  const before = s.connections();
  await new Promise<void>((resolve, reject) => {
    const c = connect(s.kind === 'path' ? s.name : `\0${s.name.slice(1)}`);
    c.once('connect', () => {
      c.destroy();
      resolve();
    });
    c.once('error', reject);
  });
  for (let i = 0; i < 200 && s.connections() === before; i++) await new Promise((r) => setTimeout(r, 10));
  if (s.connections() === before) throw new Error(`host socket ${s.name} (${s.owner}) did not count the host's connection`);
}

async function stop(servers: Server[], children: ChildProcess[], dir: string): Promise<void> {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
  }
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  rmSync(dir, { recursive: true, force: true });
}
