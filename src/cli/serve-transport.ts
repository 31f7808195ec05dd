/**
 * The listeners of `airlock serve`: TCP (HTTPS when `service.tls` is set, plain HTTP only on a
 * loopback address) and the local unix socket (plain HTTP; callers identified by SO_PEERCRED).
 * One Fastify app serves both: its serverFactory creates the TCP server and, with the same
 * request handler, the unix-socket server. startServer (serve.ts) does the listening.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { handleClientError } from '../api/errors.ts';
import type { AirlockConfig, ServiceTlsConfig } from '../config/config.ts';
import { ControlError } from '../host/control-error.ts';
import { PeerCredentialsReader } from '../host/peer-credentials.ts';
import { applySocketAccess, prepareSocketPath, removeSocketFile, type SocketAccess } from './api-socket.ts';
import { UsageError } from './usage-error.ts';

/** The URI scheme a listener serves: what a client puts in the RFC 9421 `@target-uri`. */
export type Scheme = 'http' | 'https';

/** One bound listener of the API. */
export type ServeListener =
  | { transport: 'tcp'; scheme: Scheme; address: string; port: number }
  | { transport: 'unix'; scheme: 'http'; path: string; mode: number; group: string | undefined };

/** The server options Fastify hands its serverFactory (the ones applied to both servers). */
interface FactoryOptions {
  keepAliveTimeout?: number;
  requestTimeout?: number;
  connectionTimeout?: number;
  maxRequestsPerSocket?: number;
}

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/** How long closing the unix listener waits for its connections before cutting them. */
const UNIX_DRAIN_MS = 5_000;
/** Open unix-socket connections at most; past it, new ones are closed at once. */
const UNIX_MAX_CONNECTIONS = 1024;

/**
 * Refuses plain HTTP off loopback: a request crossing the network unencrypted could be read or
 * altered on the way (bearer-free, signed requests included: bodies and results are in the clear).
 */
export function requireTlsOffLoopback(host: string, loopback: boolean, tls: ServiceTlsConfig | null): void {
  if (loopback || tls !== null) return;
  throw new UsageError(
    `--host ${host} is not a loopback address, and the API is served off loopback only over TLS: set service.tls ` +
      '{"certFile": "/path/cert.pem", "keyFile": "/path/key.pem"} in the configuration file, or listen on 127.0.0.1 ' +
      '(local callers can use the unix socket, service.socket.path)',
  );
}

/** Both listeners' servers, created for one Fastify app. */
export class ServeTransport {
  /** Scheme of the TCP listener. */
  readonly tcpScheme: Scheme;
  /** Reads who is calling on the unix socket; undefined when there is no socket. */
  readonly peers: PeerCredentialsReader | undefined;
  readonly #tls: { cert: Buffer; key: Buffer } | undefined;
  readonly #socket: AirlockConfig['service']['socket'];
  #unix: HttpServer | undefined;
  #bound: SocketAccess | undefined;

  private constructor(tls: { cert: Buffer; key: Buffer } | undefined, socket: AirlockConfig['service']['socket'], peers: PeerCredentialsReader | undefined) {
    this.#tls = tls;
    this.#socket = socket;
    this.peers = peers;
    this.tcpScheme = tls === undefined ? 'http' : 'https';
  }

  /**
   * Checks what the configuration asks for before anything listens: TLS off loopback, the TLS
   * files, the peer-credentials helper (built under stateDir) and the socket path (stale file removed).
   */
  static async open(config: AirlockConfig, host: string, loopback: boolean): Promise<ServeTransport> {
    requireTlsOffLoopback(host, loopback, config.service.tls);
    const tls = config.service.tls === null ? undefined : readTls(config.service.tls);
    const socketPath = config.service.socket.path;
    const peers = socketPath === null ? undefined : await PeerCredentialsReader.create(config);
    if (socketPath !== null) await prepareSocketPath(socketPath);
    return new ServeTransport(tls, config.service.socket, peers);
  }

  /** Fastify's serverFactory: returns the TCP server, and makes the unix-socket one with the same handler. */
  readonly serverFactory = (handler: Handler, options: FactoryOptions): HttpServer => {
    const tcp = this.#tls === undefined ? createHttpServer(handler) : createHttpsServer(this.#tls, handler);
    applyServerOptions(tcp, options);
    if (this.#socket.path !== null) {
      const unix = createHttpServer(handler);
      applyServerOptions(unix, options);
      unix.on('clientError', handleClientError);
      // Why: each connection starts a helper process; a caller opening connections in a loop must not exhaust the host.
      unix.maxConnections = UNIX_MAX_CONNECTIONS;
      // Before it listens: every accepted connection gets its peer lookup started.
      this.peers?.attach(unix);
      this.#unix = unix;
    }
    return tcp;
  };

  /** Listens on the unix socket (after the app is ready) and gives it its access; undefined when none. */
  async listenUnix(logger: Logger): Promise<ServeListener | undefined> {
    const path = this.#socket.path;
    const unix = this.#unix;
    if (path === null) return undefined;
    if (unix === undefined) throw new ControlError('api_socket', 'the unix-socket server was not created (the app was built without this transport)');
    await new Promise<void>((resolve, reject) => {
      unix.once('error', reject);
      unix.listen({ path }, () => {
        unix.off('error', reject);
        resolve();
      });
    });
    // Why: the default umask leaves the fresh socket connectable by root only, and any connection is identified by its uid anyway.
    this.#bound = await applySocketAccess(path, this.#socket, logger);
    return { transport: 'unix', scheme: 'http', path, mode: this.#bound.mode, group: this.#bound.group };
  }

  /** Stops the unix listener, lets its connections finish (up to a few seconds) and removes the socket file. */
  async closeUnix(): Promise<void> {
    const unix = this.#unix;
    if (unix === undefined || !unix.listening) return;
    const closed = new Promise<void>((resolve) => unix.close(() => resolve()));
    unix.closeIdleConnections();
    const timer = setTimeout(() => unix.closeAllConnections(), UNIX_DRAIN_MS);
    await closed;
    clearTimeout(timer);
    if (this.#socket.path !== null && this.#bound !== undefined) removeSocketFile(this.#socket.path, this.#bound.ino);
  }
}

function applyServerOptions(server: HttpServer, options: FactoryOptions): void {
  if (options.keepAliveTimeout !== undefined) server.keepAliveTimeout = options.keepAliveTimeout;
  if (options.requestTimeout !== undefined) server.requestTimeout = options.requestTimeout;
  if (options.connectionTimeout !== undefined) server.setTimeout(options.connectionTimeout);
  if (options.maxRequestsPerSocket !== undefined && options.maxRequestsPerSocket > 0) server.maxRequestsPerSocket = options.maxRequestsPerSocket;
}

/** Reads the certificate and key; a missing or unreadable file refuses the start, naming it. */
function readTls(tls: ServiceTlsConfig): { cert: Buffer; key: Buffer } {
  const read = (field: 'certFile' | 'keyFile') => {
    try {
      return readFileSync(tls[field]);
    } catch (err) {
      throw new ControlError('tls', `cannot read service.tls.${field} ${tls[field]}: ${(err as Error).message}`, { cause: err });
    }
  };
  const pair = { cert: read('certFile'), key: read('keyFile') };
  try {
    // Checked now, so a mismatched or malformed pair stops the start instead of failing each handshake.
    createSecureContext(pair);
  } catch (err) {
    throw new ControlError('tls', `service.tls: ${tls.certFile} and ${tls.keyFile} are not a usable PEM certificate and key: ${(err as Error).message}`, { cause: err });
  }
  return pair;
}
