/**
 * A real PostgreSQL server (Debian's) for the audit tests: a new cluster in a temporary directory,
 * owned by the `postgres` user (PostgreSQL refuses to run as root), listening on 127.0.0.1 at a
 * free port and on a socket in that directory only; stopped and removed after the test.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/** A running server: its connection string, and stop/start for outage tests. */
export interface PostgresServer {
  readonly url: string;
  stop(mode?: 'fast' | 'immediate'): void;
  start(): void;
}

/** Where Debian installs the server binaries (the newest major version present). */
function binDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

/** Why a server can't be started here, or false. */
export function postgresSkipReason(): string | false {
  if (binDir() === undefined) return 'PostgreSQL is not installed (Debian package postgresql)';
  try {
    execFileSync('id', ['postgres'], { stdio: 'ignore' });
  } catch {
    return 'no postgres user to run the server as';
  }
  return false;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** Starts a fresh server for this test. */
export async function startPostgres(t: TestContext): Promise<PostgresServer> {
  const bin = binDir() as string;
  const dir = mkdtempSync(join(tmpdir(), 'airlock-pg-'));
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  const asPostgres = (cmd: string, args: string[]) => execFileSync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'airlock', '--encoding', 'UTF8', '--no-instructions']);
  const port = await freePort();
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=on -c synchronous_commit=on`;
  const server: PostgresServer = {
    url: `postgres://airlock@127.0.0.1:${port}/postgres`,
    start: () => void asPostgres('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start']),
    stop: (mode = 'fast') => void asPostgres('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']),
  };
  server.start();
  t.after(() => {
    try {
      server.stop('immediate');
    } catch {
      // Already stopped by the test.
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return server;
}
