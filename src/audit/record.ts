/**
 * An audit record: what the controller decided or saw, as one RFC 8785 canonical JSON leaf of the
 * log's Merkle tree. A record carries its own index and the leaf hash of the record before it, so a
 * row deleted, inserted or moved in the store is named by index, and an edited row is caught by the
 * next record's `prev` even when its stored hash was edited with it.
 */
import { canonicalJson } from '../signing/canonical-json.ts';

/** Format version of a record. */
export const RECORD_VERSION = 1;

/** What records are about. */
export const AUDIT_KINDS = [
  'admission',
  'sandbox.created',
  'sandbox.ended',
  'execution.finished',
  'exec.finished',
  'egress',
  'allowlist.changed',
  'violation',
  'approval.opened',
  'approval.decided',
  'principal.added',
  'key.added',
  'key.revoked',
  'policy.loaded',
  'agent.revoked',
  'agent.unrevoked',
  'revocations.imported',
  'contract.set',
  'contract.removed',
  'mcp.call',
  'mcp.pins',
] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

/** Who caused the record, as admission knew them. */
export interface AuditActor {
  readonly name: string;
  readonly role: string;
  readonly agent_id: string;
}

/** What a part of the controller hands to `AuditLog.append`. */
export interface AuditEvent {
  readonly kind: AuditKind;
  /** Tenancy: the agent whose record this is (a sandbox's owner, else the caller's agent id); null: controller-wide. */
  readonly agentId: string | null;
  readonly sandboxId?: string | null | undefined;
  readonly actor?: AuditActor | null | undefined;
  /** The facts, JSON only (no undefined, NaN or Infinity: canonical JSON has no form for them). */
  readonly data: Record<string, unknown>;
}

/** A record as hashed (snake_case, the wire form). */
export interface AuditRecord {
  readonly v: typeof RECORD_VERSION;
  /** Position in the log, from 0. */
  readonly index: number;
  /** When it was appended (ISO 8601 UTC, ms). */
  readonly time: string;
  /** Hex leaf hash of record index - 1; null for the first record. */
  readonly prev: string | null;
  readonly kind: AuditKind;
  readonly agent_id: string | null;
  readonly sandbox_id: string | null;
  readonly actor: AuditActor | null;
  readonly data: Record<string, unknown>;
}

/** The record of `event` at `index`. */
export function toRecord(event: AuditEvent, index: number, timeMs: number, prev: Buffer | null): AuditRecord {
  return {
    v: RECORD_VERSION,
    index,
    time: new Date(timeMs).toISOString(),
    prev: prev === null ? null : prev.toString('hex'),
    kind: event.kind,
    agent_id: event.agentId,
    sandbox_id: event.sandboxId ?? null,
    actor: event.actor ?? null,
    data: event.data,
  };
}

/** The leaf bytes of a record: its RFC 8785 canonical JSON. */
export function recordLeaf(record: AuditRecord): string {
  return canonicalJson(record);
}

/** Parses a stored leaf back into a record; throws naming what is wrong with it. */
export function parseRecord(leaf: string): AuditRecord {
  const value = JSON.parse(leaf) as Partial<AuditRecord> | null;
  if (value === null || typeof value !== 'object' || value.v !== RECORD_VERSION || !Number.isSafeInteger(value.index) || typeof value.kind !== 'string') {
    throw new Error('not an airlock audit record (v, index, kind)');
  }
  // Why: a leaf whose bytes are not canonical would hash differently from the record it claims to be.
  if (canonicalJson(value) !== leaf) throw new Error('not in RFC 8785 canonical form');
  return value as AuditRecord;
}
