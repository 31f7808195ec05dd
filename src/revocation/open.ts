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

/** The revoker and the observer hook that revokes automatically (a no-op unless configured). */
export async function openRevocation(options: OpenRevocationOptions): Promise<{ revoker: Revoker; observer: ReturnType<typeof autoRevoker> }> {
  const { revocation } = options.config;
  // Why fail at start: a trusted key that can't be read would make every import fail later, silently narrowed.
  const trustedKeys = await Promise.all(revocation.trustedKeys.map((path) => loadPublicKeyFile(path).catch((err: Error) => {
    throw new Error(`revocation.trustedKeys: ${err.message}`, { cause: err });
  })));
  const revoker = new Revoker({ store: options.store, endAgent: options.endAgent, audit: options.audit, controllerKey: options.controllerKey, trustedKeys, maxListAgeMs: revocation.maxListAgeSeconds * 1000 });
  const observer = autoRevoker({ revoker, violations: revocation.autoRevoke.violations, windowSeconds: revocation.autoRevoke.windowSeconds, ownerOf: options.ownerOf, onError: options.onError });
  return { revoker, observer };
}
