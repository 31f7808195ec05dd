/**
 * Revocation from the SDK (operators): revoke and unrevoke agents, list them, and move the signed
 * revocation list between controllers.
 */
import type { AirlockClient } from './client.ts';
import { AirlockError } from './errors.ts';
import type { CallOptions } from './http.ts';

/** One revoked agent. */
export interface RevocationInfo {
  agent_id: string;
  reason: string;
  /** A principal name, `controller` (automatic), or `import:<key id>`. */
  revoked_by: string;
  revoked_at: string;
  /** `local`, or the key id of the controller whose signed list it came from. */
  source: string;
}
/** The answer to a revoke. */
export interface RevokeResult extends RevocationInfo {
  /** False when the agent was already revoked (the first revocation stands). */
  created: boolean;
  sandboxes_ended: string[];
  executions_ended: string[];
}
/** `GET /api/v1/revocations`. */
export interface RevocationList {
  revocations: RevocationInfo[];
}
/** A signed revocation list as exported. */
export interface SignedRevocations {
  list: {
    format: 'airlock-revocation-list/1';
    issuer: string;
    sequence: number;
    issued_at: string;
    revocations: Array<{ agent_id: string; reason: string; revoked_by: string; revoked_at: string }>;
  };
  signature: string;
}
/** What an import applied. */
export interface ImportResult {
  issuer: string;
  sequence: number;
  added: string[];
  removed: string[];
}

/** `POST /api/v1/revocations`: revokes `agentId`; its live sandboxes have ended when this resolves. */
export function revokeAgent(client: AirlockClient, agentId: string, reason: string, options: CallOptions = {}): Promise<RevokeResult> {
  return client.transport.json({ method: 'POST', path: '/api/v1/revocations', json: { agent_id: agentId, reason }, signals: [options.signal] });
}

/** `DELETE /api/v1/revocations/{agent_id}`. */
export function unrevokeAgent(client: AirlockClient, agentId: string, options: CallOptions = {}): Promise<{ agent_id: string; revoked: false }> {
  if (typeof agentId !== 'string' || agentId === '') throw new AirlockError('agent id must be a non-empty string', { code: 'invalid_argument' });
  return client.transport.json({ method: 'DELETE', path: `/api/v1/revocations/${encodeURIComponent(agentId)}`, signals: [options.signal] });
}

/** `GET /api/v1/revocations`. */
export async function listRevocations(client: AirlockClient, options: CallOptions = {}): Promise<RevocationInfo[]> {
  const list = await client.transport.json<RevocationList>({ method: 'GET', path: '/api/v1/revocations', signals: [options.signal] });
  return list.revocations;
}

/** `GET /api/v1/revocation-list`: the controller's own revocations, signed. */
export function exportRevocations(client: AirlockClient, options: CallOptions = {}): Promise<SignedRevocations> {
  return client.transport.json({ method: 'GET', path: '/api/v1/revocation-list', signals: [options.signal] });
}

/** `POST /api/v1/revocation-list`: applies another controller's signed list. */
export function importRevocations(client: AirlockClient, list: unknown, options: CallOptions = {}): Promise<ImportResult> {
  return client.transport.json({ method: 'POST', path: '/api/v1/revocation-list', json: list, signals: [options.signal] });
}
