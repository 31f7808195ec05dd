/** The public shapes of the egress proxy: options, decisions and the handle. */
import type { AllowRule } from './allow-entry.ts';
import type { ListenerEndpoint } from './controller-listeners.ts';
import type { BrokerCa } from './broker-ca.ts';

/** An internal service a sandbox may reach by `<name>.airlock.internal` or by its URL's host:port. */
export interface InternalService {
  name: string;
  /** http: or https: base URL; its path is prefixed to every forwarded path. */
  url: URL;
  /** Allowed methods (case-insensitive). */
  methods: string[];
  /** Allowed path prefixes, matched on whole segments (`/api` allows `/api` and `/api/x`, not `/apix`). */
  pathPrefixes: string[];
  /** PEM trust anchors for an https: service (default: the system's). Verification is never switched off. */
  ca?: string;
}

/** A secret brokered to destinations: the sandbox holds `placeholder`; the proxy alone can read the value. */
export interface BrokeredCredential {
  name: string;
  /** The token the sandbox was given instead of the value. */
  placeholder: string;
  /** Canonical host names (or `NAME.airlock.internal`) the value may reach. */
  hosts: string[];
  /** The header that carries it, and its value with `{value}` for the secret. */
  header: string;
  format: string;
  /** Whether it may go to an outside host over plain HTTP (see SecretBinding.plainHttp). */
  plainHttp?: boolean;
  /** The real value (read only when swapping it in). */
  value(): Buffer;
}

/**
 * Redacts real values of brokered secrets from what upstreams answer (a Redactor of src/secrets
 * fits): an upstream that echoes the key (an error quoting it) must not hand it to the sandbox.
 */
export interface ResponseRedactor {
  stream(): { push(chunk: Buffer): Buffer; end(): Buffer };
  text(text: string): string;
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export type Resolver = (host: string) => Promise<ResolvedAddress[]>;

export interface EgressProxyOptions {
  sandboxId: string;
  /** Where to listen: the host side of the sandbox's veth (127.0.0.1 and port 0 in tests). */
  host: string;
  port: number;
  /** Replaceable at runtime with setAllowlist. */
  allow: AllowRule[];
  services: InternalService[];
  /** Secrets brokered to destinations (default none). */
  brokered?: BrokeredCredential[];
  /**
   * The sandbox's broker CA: with it, CONNECT tunnels to hosts a brokered secret is bound to are
   * intercepted (TLS terminated with a leaf it mints, requests judged, re-originated with full
   * verification against the system's trust). Without it, HTTPS to those hosts stays a blind tunnel.
   * close() disposes of it.
   */
  brokerCa?: BrokerCa;
  /** Applied to every plain HTTP answer's headers and body when set (with brokered secrets). */
  responseRedactor?: ResponseRedactor;
  /** Default: dns.promises.lookup(host, { all: true }). */
  resolve?: Resolver;
  /** Default: every address of os.networkInterfaces(). */
  hostAddresses?: () => string[];
  /**
   * Every listener of the controller process (API and metrics, the other egress proxies, the
   * inspector), read per request. Nothing reaches them, whatever the allowlist or the services say;
   * this proxy adds its own listener. Required: a proxy that does not know them must not start.
   */
  controllerListeners: () => readonly ListenerEndpoint[];
  onDecision: (decision: EgressDecision) => void;
  /** Upstream connect and DNS timeout; default 10 000 ms. */
  connectTimeoutMs?: number;
  /** Concurrent client connections; default 256 (more are dropped by the listener). */
  maxConnections?: number;
  /** How long a CONNECT client may take to send its ClientHello; default 10 000 ms. */
  clientHelloTimeoutMs?: number;
  /** Time to receive a request's headers; default 10 000 ms. */
  headersTimeoutMs?: number;
  /** Inactivity after which a client connection or tunnel is closed; default 300 000 ms. */
  idleTimeoutMs?: number;
}

export type DecisionKind = 'http' | 'connect' | 'service';

export interface EgressDecision {
  sandboxId: string;
  /** ISO 8601. */
  time: string;
  kind: DecisionKind;
  host: string;
  port: number;
  allowed: boolean;
  reason: string;
  method?: string;
  /** Path without the query (queries often carry secrets). */
  path?: string;
  /** Brokered secrets the request carried (by name): swapped in when allowed, the cause when refused. */
  brokered?: string[];
  /** The pinned upstream address, once known. */
  address?: string;
}

export interface EgressProxy {
  /** `http://host:port` of the listener, for HTTP_PROXY / HTTPS_PROXY. */
  readonly url: string;
  setAllowlist(rules: AllowRule[]): void;
  /** Closes the listener and destroys every open client socket, tunnel and upstream connection. */
  close(): Promise<void>;
}
