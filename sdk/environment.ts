/**
 * The connection the environment names, for Node: `AIRLOCK_URL` (an `http(s)://` URL, or
 * `unix:/path` / `unix:///path` for a socket) and `AIRLOCK_KEY` (the private key file requests are
 * signed with). Without `AIRLOCK_URL`: the controller's socket when it exists on this host, else
 * `http://127.0.0.1:8002` — the same order as the `airlock` command line. Node-only.
 */
import { statSync } from 'node:fs';
import { AirlockError } from './errors.ts';
import { DEFAULT_BASE_URL, type ConnectionOptions } from './http.ts';
import { loadSigningKey } from './key-file.ts';
import type { SigningKey } from './signing.ts';
import { DEFAULT_SOCKET_PATH, unixSocketConnection } from './unix-fetch.ts';

type Env = Readonly<Record<string, string | undefined>>;

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

/** The server `AIRLOCK_URL` names: `{ baseUrl }`, or a socket's `{ baseUrl, fetch }`. */
export function serverFromEnvironment(env: Env = process.env, socketExists: (path: string) => boolean = isSocket): ConnectionOptions {
  const url = env['AIRLOCK_URL'];
  if (url === undefined || url === '') return socketExists(DEFAULT_SOCKET_PATH) ? unixSocketConnection(DEFAULT_SOCKET_PATH) : { baseUrl: DEFAULT_BASE_URL };
  if (url.startsWith('unix:')) {
    const path = url.slice('unix:'.length).replace(/^\/\/(?=\/)/, '');
    if (!path.startsWith('/') || path.includes('\0')) {
      throw new AirlockError(`AIRLOCK_URL: "${url}" must name an absolute socket path (unix:///run/airlock/api.sock)`, { code: 'invalid_argument' });
    }
    return unixSocketConnection(path);
  }
  if (!/^https?:\/\//i.test(url)) throw new AirlockError(`AIRLOCK_URL: "${url}" must be an http(s):// URL or unix:///path/to/socket`, { code: 'invalid_argument' });
  return { baseUrl: url };
}

/**
 * The signing key `AIRLOCK_KEY` names; undefined when it is unset. A key that cannot be loaded is
 * an `AirlockError` `invalid_argument` naming `AIRLOCK_KEY` and the file (never its content).
 */
export async function keyFromEnvironment(env: Env = process.env): Promise<SigningKey | undefined> {
  const key = env['AIRLOCK_KEY'];
  if (key === undefined || key === '') return undefined;
  try {
    return await loadSigningKey(key);
  } catch (err) {
    throw new AirlockError(`AIRLOCK_KEY: ${(err as Error).message}`, { code: 'invalid_argument', cause: err });
  }
}

/**
 * The connection of the environment, for `new AirlockClient(await connectionFromEnvironment())`:
 * the server (see {@link serverFromEnvironment}) and, with `AIRLOCK_KEY`, its signing key.
 */
export async function connectionFromEnvironment(env: Env = process.env, socketExists: (path: string) => boolean = isSocket): Promise<ConnectionOptions> {
  const options = serverFromEnvironment(env, socketExists);
  const signer = await keyFromEnvironment(env);
  return signer === undefined ? options : { ...options, signer };
}
