/** What the request handlers of one proxy instance share. One context per listener, never global. */
import type { Socket } from 'node:net';
import type { AllowRule } from './allow-entry.ts';
import type { AddressClassifier } from './addresses.ts';
import type { ListenerEndpoint } from './controller-listeners.ts';
import type { BrokeredCredential, EgressDecision, InternalService, Resolver, ResponseRedactor } from './types.ts';
import type { TlsInterceptor } from './tls-intercept.ts';

export type DecisionFields = Omit<EgressDecision, 'sandboxId' | 'time'>;

export interface ProxyContext {
  readonly sandboxId: string;
  /** The allowlist in force now; read per request so setAllowlist applies to the next one. */
  rules(): readonly AllowRule[];
  readonly services: readonly InternalService[];
  readonly brokered: readonly BrokeredCredential[];
  readonly responseRedactor: ResponseRedactor | undefined;
  /** Terminates TLS for the hosts brokered secrets are bound to (set when the sandbox has a broker CA). */
  interceptor?: TlsInterceptor;
  readonly resolve: Resolver;
  readonly classify: AddressClassifier;
  /** The controller listener (this proxy's own included) that address:port would reach, if any. */
  readonly controllerListener: (address: string, port: number) => ListenerEndpoint | undefined;
  readonly connectTimeoutMs: number;
  readonly clientHelloTimeoutMs: number;
  readonly idleTimeoutMs: number;
  record(decision: DecisionFields): void;
  /** Registers an upstream socket so close() can destroy it. */
  trackUpstream(socket: Socket): void;
  isClosed(): boolean;
}

/** A recorder that emits the first decision given to it and ignores the rest (one per request). */
export function decisionOnce(context: ProxyContext): { decide(decision: DecisionFields): void; readonly done: boolean } {
  let done = false;
  return {
    decide(decision) {
      if (done) return;
      done = true;
      context.record(decision);
    },
    get done() {
      return done;
    },
  };
}
