/**
 * Who is on the other end of a unix-socket connection: the uid, gid and pid the kernel recorded
 * when the peer connected (SO_PEERCRED). Node has no API for it, so each connection of an attached
 * server is handed, as fd 3, to a tiny static helper (agent/airlock-peercred.c) that asks the
 * kernel and prints the answer. The lookup starts when the connection is accepted, so it runs
 * while the request is still being read.
 */
import { spawn } from 'node:child_process';
import type { Server, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ensureCBinary, HARDENED_CFLAGS, type BuildStamps } from './c-build.ts';
import { ControlError } from './control-error.ts';

/** The helper's source, beside the project. */
export const PEERCRED_SOURCE = fileURLToPath(new URL('../../agent/airlock-peercred.c', import.meta.url));

/** File name of the built helper. */
export const PEERCRED_BINARY_NAME = 'airlock-peercred';

/** The control a failed lookup names. */
export const PEERCRED_CONTROL = 'peer_credentials';

/** How long one helper run may take before the lookup fails. */
const LOOKUP_TIMEOUT_MS = 5_000;

/** The kernel's record of the process that connected. */
export interface PeerCredentials {
  uid: number;
  gid: number;
  /** The peer's pid in the controller's pid namespace; 0 when it is outside it. */
  pid: number;
}

/**
 * Builds the helper if needed (`${stateDir}/peercred/<key>/airlock-peercred`, verified by checksum
 * like the agent) and returns its path.
 */
export async function ensurePeerCredentialsHelper(config: { stateDir: string }, source = PEERCRED_SOURCE, verified?: BuildStamps): Promise<string> {
  const spec = { stateDir: config.stateDir, kind: 'peercred', source, binaryName: PEERCRED_BINARY_NAME, cflags: HARDENED_CFLAGS, control: PEERCRED_CONTROL, purpose: 'the peer-credentials helper' };
  return (await ensureCBinary(spec, verified)).path;
}

/** Reads the peer credentials of the connections of the servers attached to it. */
export class PeerCredentialsReader {
  readonly #helper: string;
  readonly #attached = new WeakSet<Socket>();
  readonly #lookups = new WeakMap<Socket, Promise<PeerCredentials>>();

  /** `helper`: the path ensurePeerCredentialsHelper returned. */
  constructor(helper: string) {
    this.#helper = helper;
  }

  /** Builds the helper under `stateDir` and returns a reader using it. */
  static async create(config: { stateDir: string }): Promise<PeerCredentialsReader> {
    return new PeerCredentialsReader(await ensurePeerCredentialsHelper(config));
  }

  /**
   * Marks every connection `server` accepts from now on (attach before it listens). Credentials
   * are read on the first lookup, once per connection: the kernel recorded them at connect time,
   * so reading later reads the same answer, and connections that only ask /health cost no process.
   */
  attach(server: Server): void {
    server.on('connection', (socket: Socket) => this.#attached.add(socket));
  }

  /**
   * The credentials of `socket`'s peer; undefined when the socket is not a connection of an
   * attached server. Rejects with a ControlError when they could not be read.
   */
  lookup(socket: Socket): Promise<PeerCredentials | undefined> {
    if (!this.#attached.has(socket)) return Promise.resolve(undefined);
    let lookup = this.#lookups.get(socket);
    if (lookup === undefined) {
      lookup = this.#read(socket);
      this.#lookups.set(socket, lookup);
    }
    return lookup;
  }

  #read(socket: Socket): Promise<PeerCredentials> {
    return new Promise((resolve, reject) => {
      // Why: any failure rejects, so the request is refused; no default identity (root least of all) is ever assumed.
      const fail = (why: string, cause?: unknown) => reject(new ControlError(PEERCRED_CONTROL, `cannot read the peer credentials of a unix-socket connection: ${why}`, { cause }));
      const fd = descriptorOf(socket);
      if (fd === undefined) return fail('the connection has no file descriptor (already closed?)');
      let child;
      try {
        // The descriptor is duplicated into the child as its fd 3. Given as a number, not as the
        // Socket: Node would stop reading a Socket it hands to a child, stalling the request.
        child = spawn(this.#helper, [], { stdio: ['ignore', 'pipe', 'pipe', fd], env: {} });
      } catch (err) {
        fail((err as Error).message, err);
        return;
      }
      let out = '';
      let err = '';
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk.slice(0, 64)));
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (err += chunk.slice(0, 512)));
      const timer = setTimeout(() => child.kill('SIGKILL'), LOOKUP_TIMEOUT_MS).unref();
      child.once('error', (error) => {
        clearTimeout(timer);
        fail(error.message, error);
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        const match = /^(\d{1,10}) (\d{1,10}) (\d{1,10})\n$/.exec(out);
        if (code !== 0 || match === null) return fail(err.trim() || `helper exited with ${signal ?? `status ${code}`} and answered ${JSON.stringify(out)}`);
        const [uid, gid, pid] = [Number(match[1]), Number(match[2]), Number(match[3])];
        if (uid > 0xffff_ffff || gid > 0xffff_ffff || pid > 0x7fff_ffff) return fail(`out-of-range answer ${JSON.stringify(out)}`);
        resolve({ uid, gid, pid });
      });
    });
  }
}

/** The descriptor of a connected socket (Node's handle exposes it on Unix). */
function descriptorOf(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? fd : undefined;
}
