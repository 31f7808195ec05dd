/**
 * A request's secrets, resolved once it is admitted: names to values through the controller's
 * providers. An unknown name is the caller's error (`secret_not_found`, naming it); a provider
 * that can't be read safely (a tampered value, a key others can read, a name two providers hold)
 * is the host's (`control_failed`), and the sandbox does not start.
 */
import type { SecretRegistry } from '../secrets/registry.ts';
import { UnknownSecretError } from '../secrets/registry.ts';
import type { SecretValue } from '../secrets/value.ts';
import { Redactor } from '../secrets/redactor.ts';
import type { EgressDecision } from '../network/proxy/index.ts';
import { ServiceError } from './errors.ts';

/** Values for `names` (none when absent or empty). */
export async function resolveSecrets(registry: SecretRegistry, names: readonly string[] | undefined): Promise<SecretValue[]> {
  if (names === undefined || names.length === 0) return [];
  try {
    return (await registry.resolve(names)).map((r) => r.value);
  } catch (err) {
    if (err instanceof UnknownSecretError) throw new ServiceError('secret_not_found', err.message);
    // Why the message only: every secrets error names the secret and never quotes a value.
    throw new ServiceError('control_failed', `secrets: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * An egress decision with every sandbox-chosen text redacted: a host name, a path or a reason can
 * carry a value (a request to `<value>.example.com` is refused, then logged and recorded).
 */
export function redactDecision(decision: EgressDecision, redactor: Redactor): EgressDecision {
  if (!redactor.active) return decision;
  const redacted: EgressDecision = { ...decision, host: redactor.text(decision.host), reason: redactor.text(decision.reason) };
  if (decision.path !== undefined) redacted.path = redactor.text(decision.path);
  if (decision.method !== undefined) redacted.method = redactor.text(decision.method);
  return redacted;
}

/** The redactors of running sandboxes with secrets, by driver sandbox id: for what their proxies report. */
export class SandboxRedactors {
  readonly #byId = new Map<string, Redactor>();

  /** Registers a sandbox's secrets (none: nothing); returns the call that forgets them. */
  register(sandboxId: string, secrets: readonly SecretValue[]): () => void {
    if (secrets.length === 0) return () => undefined;
    this.#byId.set(sandboxId, new Redactor(secrets));
    return () => void this.#byId.delete(sandboxId);
  }

  /** `decision` redacted with its sandbox's secrets. */
  decision(decision: EgressDecision): EgressDecision {
    const redactor = this.#byId.get(decision.sandboxId);
    return redactor === undefined ? decision : redactDecision(decision, redactor);
  }
}
