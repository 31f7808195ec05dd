/**
 * Which server `Sandbox` talks to: a given client, the connection options given, or — where they
 * name no server — the environment (`AIRLOCK_URL`, `AIRLOCK_KEY`; see `environment.ts`).
 */
import { AirlockClient } from './client.ts';
import { InvalidRequestError } from './errors.ts';
import type { CallOptions, ConnectionOptions } from './http.ts';

/** Which server to use: an existing client, or the options to make one (default: the environment). */
export interface SandboxConnection extends ConnectionOptions, CallOptions {
  /** Client to use; give either this or connection options, not both. */
  client?: AirlockClient | undefined;
}

/** The option names of a connection (and of one call on it). */
export const CONNECTION_KEYS: ReadonlySet<string> = new Set(['client', 'baseUrl', 'fetch', 'headers', 'requestTimeoutMs', 'signer', 'retry', 'signal', 'approvalId']);

/** Whether this runs in Node, where the environment and the key file can be read. */
function inNode(): boolean {
  const proc = (globalThis as { process?: { versions?: { node?: unknown } } }).process;
  return typeof proc?.versions?.node === 'string';
}

/**
 * The client for `connection`. Without `client`, `baseUrl` or `fetch`, the server is the one
 * `AIRLOCK_URL` names (else the local socket when present, else http://127.0.0.1:8002); without
 * `signer`, requests are signed with the key file `AIRLOCK_KEY` names, if any. Node only: in a
 * browser the options are used as given.
 */
export async function clientOf(connection: SandboxConnection): Promise<AirlockClient> {
  const { client, baseUrl, fetch, headers, requestTimeoutMs, signer, retry } = connection;
  if (client !== undefined) {
    const extra = Object.entries({ baseUrl, fetch, headers, requestTimeoutMs, signer, retry }).filter(([, v]) => v !== undefined).map(([k]) => k);
    // Why refused: options beside a client would otherwise be silently ignored.
    if (extra.length > 0) throw new InvalidRequestError(`client: give a client or connection options (${extra.join(', ')}), not both`, { code: 'invalid_argument' });
    return client;
  }
  const options: ConnectionOptions = { baseUrl, fetch, headers, requestTimeoutMs, signer, retry };
  if (!inNode()) return new AirlockClient(options);
  // Why a dynamic import: environment.ts loads node:fs and node:http, which a browser bundle must not need.
  const environment = await import('./environment.ts');
  if (baseUrl === undefined && fetch === undefined) Object.assign(options, environment.serverFromEnvironment());
  options.signer ??= await environment.keyFromEnvironment();
  return new AirlockClient(options);
}
