/**
 * The first admission steps: who is asking. A unix-socket peer is the uid the kernel reports,
 * mapped by `auth.localUsers` (root is the operator); a TCP request must carry an RFC 9421
 * signature by a registered, unrevoked key, unless the development switch accepts unsigned
 * loopback requests as one configured principal; the CLI acting in-process is its own uid.
 */
import type { AuthConfig } from '../config/auth-config.ts';
import type { SignableRequest } from '../signing/message.ts';
import { fieldValue, hasBody } from '../signing/message.ts';
import type { RequestVerifier } from '../signing/verify.ts';
import type { ActiveKey, ControlStore } from '../store/store.ts';
import { resolveLocalPrincipal } from '../store/local-identity.ts';
import type { Caller } from './caller.ts';
import { AdmissionRefusal } from './refusal.ts';

/** How a request reached the controller, with what each way of authenticating needs. */
export type Transport =
  /** A connection on the unix socket; `peerUid` is undefined when the kernel's answer could not be read. */
  | { kind: 'unix-socket'; peerUid: number | undefined }
  /**
   * A TCP connection; `request` is the message as received, its target URI rebuilt from trusted
   * parts. Before the body is read, give `declaresBody` (what the framing says) and no body.
   */
  | { kind: 'tcp'; loopback: boolean; request: SignableRequest; declaresBody?: boolean | undefined }
  /** The CLI acting in-process, as the unix user running it. */
  | { kind: 'local-process'; uid: number };

/** What authentication needs from the controller. */
export interface AuthenticatorOptions {
  auth: Pick<AuthConfig, 'localUsers' | 'unsignedLoopback' | 'unsignedLoopbackAs' | 'maxSkewSeconds'>;
  /** Registered keys and the nonce memory; absent, signed requests can't be verified (and are refused). */
  store?: Pick<ControlStore, 'lookupActiveKey' | 'replayCache'> | undefined;
  /** Clock in milliseconds; for tests. */
  now?: () => number;
}

/** Authenticates requests; one instance per controller (its verifier holds the nonce window). */
export class Authenticator {
  readonly #auth: AuthenticatorOptions['auth'];
  readonly #options: AuthenticatorOptions;
  /** Built on the first signed request, then kept (it holds the nonce window). */
  #verifier: Promise<RequestVerifier<ActiveKey>> | undefined;

  constructor(options: AuthenticatorOptions) {
    this.#auth = options.auth;
    this.#options = options;
  }

  /** The verifier over the store's keys; undefined without a store. */
  #verifierOf(): Promise<RequestVerifier<ActiveKey>> | undefined {
    const { store, now } = this.#options;
    if (store === undefined) return undefined;
    // Loaded on first use: only signed requests need the signing code, so a local caller (the CLI's
    // `airlock run`) starts without it.
    this.#verifier ??= import('../signing/verify.ts').then(
      ({ RequestVerifier }) =>
        new RequestVerifier<ActiveKey>({
          lookupKey: (keyId) => store.lookupActiveKey(keyId),
          replayCache: store.replayCache,
          maxSkewSeconds: this.#auth.maxSkewSeconds,
          ...(now === undefined ? {} : { now }),
        }),
    );
    return this.#verifier;
  }

  /** Which ways of authenticating are on (for /health: no tenant data). */
  get modes(): { unixSocket: true; signatures: boolean; unsignedLoopback: boolean } {
    return { unixSocket: true, signatures: this.#options.store !== undefined, unsignedLoopback: this.#auth.unsignedLoopback };
  }

  /** The caller of a request whose body is known, or an AdmissionRefusal naming what is wrong. */
  async authenticate(transport: Transport): Promise<Caller> {
    const pending = await this.begin(transport);
    return pending.complete(transport.kind === 'tcp' ? transport.request.body : undefined);
  }

  /**
   * Authentication in two halves, so a request is refused before its body is read: everything the
   * headers decide now (who, the signature over the headers), the body's digest and the nonce once
   * the body is in (`complete`). Throws an AdmissionRefusal from either half.
   */
  async begin(transport: Transport): Promise<PendingAuthentication> {
    switch (transport.kind) {
      case 'unix-socket': {
        // Why: a uid we could not read is nobody, never root by default.
        if (transport.peerUid === undefined) throw new AdmissionRefusal('authenticate', 'peer_credentials_unavailable', 'the caller\'s uid on the unix socket could not be read');
        return settled(this.#local(transport.peerUid, 'unix-socket'));
      }
      case 'local-process':
        return settled(this.#local(transport.uid, 'local-process'));
      case 'tcp':
        return this.#tcp(transport);
    }
  }

  #local(uid: number, via: 'unix-socket' | 'local-process'): Caller {
    const principal = resolveLocalPrincipal(uid, this.#auth.localUsers);
    if (principal === undefined) {
      throw new AdmissionRefusal('authenticate', 'local_user_unknown', `uid ${uid} is not a configured local user (auth.localUsers); sign requests with a registered key instead`);
    }
    return { name: principal.name, role: principal.role, agentId: principal.agentId, groups: principal.groups, via, uid };
  }

  async #tcp(transport: Extract<Transport, { kind: 'tcp' }>): Promise<PendingAuthentication> {
    const signed = fieldValue(transport.request.headers, 'signature') !== undefined || fieldValue(transport.request.headers, 'signature-input') !== undefined;
    // Why only unsigned, only loopback: a request that is signed is held to its signature, and the
    // switch must never open a listener other hosts can reach.
    if (!signed && transport.loopback && this.#auth.unsignedLoopback) {
      const p = this.#auth.unsignedLoopbackAs;
      return settled({ name: p.name, role: p.role, agentId: p.agentId ?? p.name, groups: [...new Set(p.groups)].sort(), via: 'unsigned-loopback' });
    }
    if (!signed) throw new AdmissionRefusal('authenticate', 'authentication_required', 'requests over TCP must be signed (RFC 9421, Ed25519, a registered key); local callers can use the unix socket');
    const pendingVerifier = this.#verifierOf();
    if (pendingVerifier === undefined) throw new AdmissionRefusal('signature', 'key_unknown', 'this controller has no key store: signed requests can\'t be verified');
    const verifier = await pendingVerifier;
    const declaresBody = transport.declaresBody ?? hasBody(transport.request);
    const head = await verifier.verifyHeaders(transport.request, declaresBody);
    if (!head.ok) throw new AdmissionRefusal('signature', head.code, head.reason);
    return {
      caller: undefined,
      complete: async (body) => {
        const result = await verifier.completeWithBody(head, body);
        if (!result.ok) throw new AdmissionRefusal('signature', result.code, result.reason);
        const p = result.key.principal;
        return { name: p.name, role: p.role, agentId: p.agentId, groups: p.groups, via: 'signature', keyId: result.keyid };
      },
    };
  }
}

/** Authentication waiting for the request's body. */
export interface PendingAuthentication {
  /** The caller when the headers alone decided it (socket, local process, unsigned loopback). */
  readonly caller: Caller | undefined;
  /** Finishes with the body as received (digest, nonce); resolves to the caller or throws an AdmissionRefusal. */
  complete(body: SignableRequest['body']): Promise<Caller>;
}

function settled(caller: Caller): PendingAuthentication {
  return { caller, complete: async () => caller };
}
