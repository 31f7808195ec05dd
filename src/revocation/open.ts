/** Builds a controller's Revoker from its configuration: the trusted keys loaded, automatic revocation wired. */
import type { KeyObject } from 'node:crypto';
import type { AirlockConfig } from '../config/config.ts';
import { loadPublicKeyFile } from '../signing/key-files.ts';
import type { RevocationStore } from '../store/revocations.ts';
import type { AuditEvent } from '../audit/record.ts';
import { autoRevoker } from './auto-revoke.ts';
import { Revoker, type AgentEnded } from './revoker.ts';

/** What {@link openRevocation} needs. */
export interface OpenRevocationOptions {
  readonly config: Pick<AirlockConfig, 'revocation'>;
  readonly store: RevocationStore;
  readonly endAgent: (agentId: string) => Promise<AgentEnded>;
  readonly audit?: { append(event: AuditEvent): Promise<unknown> } | undefined;
  readonly controllerKey?: KeyObject | undefined;
  readonly ownerOf: (sandboxId: string) => string | undefined;
  readonly onError: (err: unknown, agentId: string) => void;
}

/** The service observer of revocation: automatic revocation, and the late-start check of {@link lateStartCheck}. */
export type RevocationObserver = ReturnType<typeof autoRevoker> & ReturnType<typeof lateStartCheck>;

/**
 * A sandbox or one-shot admitted just before its owner was revoked can finish starting (or be
 * registered) just after the revocation ended the owner's; this ends it as soon as it is reported.
 */
export function lateStartCheck(revoker: Pick<Revoker, 'revoked'>, endAgent: (agentId: string) => Promise<unknown>, onError: (err: unknown, agentId: string) => void) {
  const check = (owner: string) => {
    if (owner === '') return;
    revoker
      .revoked(owner)
      .then((revoked) => (revoked === undefined ? undefined : endAgent(owner)))
      .catch((err: unknown) => onError(err, owner));
  };
  return {
    sandboxCreated: (info: { owner: string }): void => check(info.owner),
    executionStarted: (execution: { agentId: string }): void => check(execution.agentId),
  };
}

/** The revoker and its service observer (automatic revocation is a no-op unless configured). */
export async function openRevocation(options: OpenRevocationOptions): Promise<{ revoker: Revoker; observer: RevocationObserver }> {
  const { revocation } = options.config;
  // Why fail at start: a trusted key that can't be read would make every import fail later, silently narrowed.
  const trustedKeys = await Promise.all(revocation.trustedKeys.map((path) => loadPublicKeyFile(path).catch((err: Error) => {
    throw new Error(`revocation.trustedKeys: ${err.message}`, { cause: err });
  })));
  const revoker = new Revoker({ store: options.store, endAgent: options.endAgent, audit: options.audit, controllerKey: options.controllerKey, trustedKeys, maxListAgeMs: revocation.maxListAgeSeconds * 1000 });
  const observer = autoRevoker({ revoker, violations: revocation.autoRevoke.violations, windowSeconds: revocation.autoRevoke.windowSeconds, ownerOf: options.ownerOf, onError: options.onError });
  return { revoker, observer: { ...observer, ...lateStartCheck(revoker, options.endAgent, options.onError) } };
}
