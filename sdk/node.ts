/**
 * The Node-only part of the SDK (`@airlock-sandbox/sdk/node`): a signing key from a file, the
 * connection `AIRLOCK_URL` / `AIRLOCK_KEY` name, and a `fetch`
 * over the controller's unix socket. Kept apart from `sdk/index.ts` so that stays browser-safe.
 *
 * ```ts
 * const client = new AirlockClient({ ...unixSocketConnection(), signer: await loadSigningKey('agent.key') });
 * ```
 */
export { loadSigningKey } from './key-file.ts';
export { connectionFromEnvironment, keyFromEnvironment, serverFromEnvironment } from './environment.ts';
export { DEFAULT_SOCKET_PATH, SOCKET_BASE_URL, unixSocketConnection, unixSocketFetch } from './unix-fetch.ts';
