/** Internal services are reached as `http://<name>.airlock.internal` (a name no public DNS has). */
export const INTERNAL_SERVICE_DOMAIN = 'airlock.internal';

/**
 * The host's own loopback, as a restricted sandbox names it: `host.airlock.internal:PORT`, allowed
 * by an allowlist entry of that name and port, resolved by the egress proxy alone (to 127.0.0.1).
 * Why a name: `127.0.0.1` inside a sandbox is its own loopback (and in NO_PROXY), so clients never
 * send it to the proxy; and without an entry naming it, nothing can name the host's loopback.
 */
export const HOST_SERVICE_NAME = `host.${INTERNAL_SERVICE_DOMAIN}`;

/** The address the proxy connects to for {@link HOST_SERVICE_NAME}. */
export const HOST_SERVICE_ADDRESS = '127.0.0.1';
