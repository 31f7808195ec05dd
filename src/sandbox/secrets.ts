/**
 * A request's secrets, resolved once it is admitted: names to values through the controller's
 * providers. An unknown name is the caller's error (`secret_not_found`, naming it); a provider
 * that can't be read safely (a tampered value, a key others can read, a name two providers hold)
 * is the host's (`control_failed`), and the sandbox does not start.
 */
import type { SecretRegistry } from '../secrets/registry.ts';
import { UnknownSecretError } from '../secrets/registry.ts';
import type { SecretValue } from '../secrets/value.ts';
import type { SecretBinding } from '../secrets/binding.ts';
import { Redactor } from '../secrets/redactor.ts';
import type { ResolvedSecret } from '../secrets/provider.ts';
import type { BrokeredCredential, EgressDecision } from '../network/proxy/index.ts';
import type { NetworkRequest } from '../network/policy.ts';
import { ServiceError } from './errors.ts';

/** A request's secrets, split by who gets what. */
export interface SandboxSecrets {
  /** What goes to /run/secrets: values, and placeholders of brokered secrets. */
  files: SecretValue[];
  /** What is redacted from the sandbox's output and reports: every real value. */
  redact: SecretValue[];
  /** Brokered secrets, for the sandbox's egress proxy. */
  brokered: BrokeredCredential[];
}

/** The secrets for `names` (none when absent or empty). */
export async function resolveSandboxSecrets(registry: SecretRegistry, names: readonly string[] | undefined): Promise<SandboxSecrets> {
  const resolved = await resolveNamed(registry, names);
  return {
    files: resolved.map((r) => r.value),
    redact: resolved.map((r) => (r.delivery.kind === 'brokered' ? r.delivery.real : r.value)),
    brokered: resolved.flatMap((r) => (r.delivery.kind === 'brokered' ? [brokeredCredential(r.value, r.delivery.real, r.delivery.bind)] : [])),
  };
}

function brokeredCredential(placeholder: SecretValue, real: SecretValue, bind: SecretBinding): BrokeredCredential {
  return { name: real.name, placeholder: placeholder.bytes().toString('latin1'), hosts: [...bind.hosts], header: bind.header, format: bind.format, ...(bind.plainHttp === true ? { plainHttp: true } : {}), value: () => real.bytes() };
}

async function resolveNamed(registry: SecretRegistry, names: readonly string[] | undefined): Promise<ResolvedSecret[]> {
  if (names === undefined || names.length === 0) return [];
  try {
    return await registry.resolve(names);
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

/**
 * The network request with the sandbox's brokered secrets attached for its egress proxy. Only a
 * restricted network has a proxy: a brokered secret with any other mode is refused.
 */
export function withBrokered(network: NetworkRequest, secrets: SandboxSecrets): NetworkRequest {
  if (secrets.brokered.length === 0) return network;
  // Why refuse: without the proxy the placeholder would be useless and nothing would stop it going anywhere.
  if (network.mode !== 'restricted') throw new ServiceError('invalid_request', `secrets ${secrets.brokered.map((b) => b.name).join(', ')} are brokered to destinations and need network_policy restricted, not ${network.mode}`);
  return { ...network, brokered: secrets.brokered, responseRedactor: new Redactor(secrets.redact) };
}
