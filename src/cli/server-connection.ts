/**
 * Which server a CLI command talks to, and how it signs: `--url` or `--socket`, else `AIRLOCK_URL`
 * (`unix:/path` names a socket), else `AIRLOCK_SOCKET`, else the controller's default socket when it
 * exists on this host, else http://127.0.0.1:8002. `--key FILE` / `AIRLOCK_KEY` signs every request.
 * Every command that talks to the server (sandbox, approvals, …) builds its client here.
 */
import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { AirlockClient } from '../../sdk/client.ts';
import { AirlockError } from '../../sdk/errors.ts';
import type { ConnectionOptions } from '../../sdk/http.ts';
import { loadSigningKey } from '../../sdk/key-file.ts';
import { DEFAULT_SOCKET_PATH, unixSocketConnection } from '../../sdk/unix-fetch.ts';
import { describeError } from './sandbox-format.ts';
import { DEFAULT_URL, resolveUrl } from './sandbox-options.ts';
import { UsageError } from './usage-error.ts';

/** The raw server options a command takes. */
export interface ServerOptions {
  url?: string | undefined;
  socket?: string | undefined;
  key?: string | undefined;
}

/** The server a command talks to, and why that one. */
export type ServerChoice =
  | { readonly kind: 'url'; readonly url: string; readonly source: string }
  | { readonly kind: 'socket'; readonly path: string; readonly source: string };

/** What a command needs to build its client, and to explain a failure. */
export interface ServerConnection {
  /** For `new AirlockClient(options)`. */
  readonly options: ConnectionOptions;
  readonly choice: ServerChoice;
  /** Where requests go, for messages: a URL or `unix socket PATH`. */
  readonly target: string;
  /** The key id requests are signed with; undefined when unsigned. */
  readonly keyId: string | undefined;
  /** Where the key came from (`--key` or `AIRLOCK_KEY`); undefined when unsigned. */
  readonly keySource: string | undefined;
}

type Env = Readonly<Record<string, string | undefined>>;

const nonEmpty = (value: string | undefined): string | undefined => (value === undefined || value === '' ? undefined : value);

/** Whether a unix socket exists at `path` (a plain file or nothing there: no). */
export function socketExists(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

function socketPath(where: string, path: string): string {
  if (path === '' || path.includes('\0')) throw new UsageError(`${where}: needs a socket path`);
  return isAbsolute(path) ? path : resolve(path);
}

/** A `--url` / `AIRLOCK_URL` value: an http(s) URL, or `unix:/path` (also `unix:///path`). */
function fromUrl(where: string, value: string): ServerChoice {
  if (value.startsWith('unix:')) {
    const path = value.slice('unix:'.length).replace(/^\/\/(?=\/)/, '');
    if (!path.startsWith('/')) throw new UsageError(`${where}: "${value}" must name an absolute socket path (unix:/run/airlock/api.sock)`);
    return { kind: 'socket', path: socketPath(where, path), source: where };
  }
  return { kind: 'url', url: resolveUrl(value, {}, where), source: where };
}

/**
 * The server to talk to. Options beat the environment; a URL beats a socket; with neither, the
 * default socket when it exists (`exists` is for tests), else the default URL.
 */
export function resolveServer(opts: ServerOptions, env: Env = process.env, exists: (path: string) => boolean = socketExists): ServerChoice {
  const url = nonEmpty(opts.url);
  const socket = nonEmpty(opts.socket);
  if (opts.url !== undefined && url === undefined) throw new UsageError('--url: needs a URL');
  if (opts.socket !== undefined && socket === undefined) throw new UsageError('--socket: needs a socket path');
  if (url !== undefined && socket !== undefined) throw new UsageError('--url and --socket: give one of them');
  if (url !== undefined) return fromUrl('--url', url);
  if (socket !== undefined) return { kind: 'socket', path: socketPath('--socket', socket), source: '--socket' };
  const envUrl = nonEmpty(env['AIRLOCK_URL']);
  if (envUrl !== undefined) return fromUrl('AIRLOCK_URL', envUrl);
  const envSocket = nonEmpty(env['AIRLOCK_SOCKET']);
  if (envSocket !== undefined) return { kind: 'socket', path: socketPath('AIRLOCK_SOCKET', envSocket), source: 'AIRLOCK_SOCKET' };
  if (exists(DEFAULT_SOCKET_PATH)) return { kind: 'socket', path: DEFAULT_SOCKET_PATH, source: `the default socket, present on this host` };
  return { kind: 'url', url: DEFAULT_URL, source: `the default: no socket at ${DEFAULT_SOCKET_PATH}` };
}

/** Where requests go, for messages: the URL, or `unix socket PATH`. */
export function targetOf(choice: ServerChoice): string {
  return choice.kind === 'url' ? choice.url : `unix socket ${choice.path}`;
}

/** The key file: `--key`, else `AIRLOCK_KEY`; undefined for unsigned requests. */
export function resolveKey(opts: ServerOptions, env: Env = process.env): { path: string; source: string } | undefined {
  if (opts.key !== undefined) {
    if (opts.key === '') throw new UsageError('--key: needs a key file');
    return { path: opts.key, source: '--key' };
  }
  const fromEnv = nonEmpty(env['AIRLOCK_KEY']);
  return fromEnv === undefined ? undefined : { path: fromEnv, source: 'AIRLOCK_KEY' };
}

/**
 * The connection for the given options and environment: the server (see {@link resolveServer}) and,
 * with `--key` / `AIRLOCK_KEY`, the signing key. A key that cannot be loaded is a UsageError naming
 * where it came from (exit 2), before anything is sent.
 */
export async function connectionFromOptions(opts: ServerOptions, env: Env = process.env, exists: (path: string) => boolean = socketExists): Promise<ServerConnection> {
  const choice = resolveServer(opts, env, exists);
  const options: ConnectionOptions = choice.kind === 'url' ? { baseUrl: choice.url } : unixSocketConnection(choice.path);
  const key = resolveKey(opts, env);
  if (key === undefined) return { options, choice, target: targetOf(choice), keyId: undefined, keySource: undefined };
  try {
    options.signer = await loadSigningKey(key.path);
  } catch (err) {
    // The loader's messages name the file and the problem, never the key's content.
    throw new UsageError(`${key.source}: ${(err as Error).message}`);
  }
  return { options, choice, target: targetOf(choice), keyId: options.signer.keyId, keySource: key.source };
}

/**
 * Runs `fn` with a client of the chosen server; an SDK error becomes one line saying what failed,
 * which server was tried and why that one, and, on a 401, how to authenticate (exit 1 in main.ts).
 */
export async function withServerClient<T>(opts: ServerOptions, fn: (client: AirlockClient, connection: ServerConnection) => Promise<T>, env: Env = process.env): Promise<T> {
  const connection = await connectionFromOptions(opts, env);
  try {
    return await fn(new AirlockClient(connection.options), connection);
  } catch (err) {
    if (!(err instanceof AirlockError)) throw err;
    const context = { target: connection.target, source: connection.choice.source, keyId: connection.keyId, keySource: connection.keySource };
    throw new Error(describeError(err, context), { cause: err });
  }
}
