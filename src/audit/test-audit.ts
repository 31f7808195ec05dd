/** Helpers of the audit tests: a real SQLite store in a temporary directory, a controller key, events. */
import type { TestContext } from 'node:test';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import { tempStorePath } from '../store/test-helpers.ts';
import { generateEd25519KeyPair } from '../signing/keys.ts';
import { AuditLog } from './log.ts';
import type { AuditEvent } from './record.ts';
import { leafHash } from './merkle.ts';

/** A store, a controller key and a log over them; closed after the test. */
export async function tempAuditLog(t: TestContext, path?: string) {
  const where = path ?? (await tempStorePath(t)).path;
  // The controller's configuration: commits in the writer thread.
  const store = await SqliteStore.open({ path: where, auditWriter: 'worker' });
  t.after(() => store.close());
  const keys = generateEd25519KeyPair();
  const log = new AuditLog({ store: store.audit, signingKey: keys.privateKey });
  return { store, log, path: where, ...keys };
}

/** An admission event of agent `agent` on sandbox `sandbox`. */
export function sampleEvent(n: number, agent = 'agent-a', sandbox: string | null = null): AuditEvent {
  return { kind: 'admission', agentId: agent, sandboxId: sandbox, actor: { name: agent, role: 'agent', agent_id: agent }, data: { action: 'exec', outcome: 'allowed', n } };
}

/** How a tamper case writes SQL for one database: a stored leaf, a quoted text literal, a byte literal. */
export interface TamperSql {
  readonly leaf: (index: number) => string;
  readonly text: (value: string) => string;
  readonly bytes: (value: Buffer) => string;
}

/** A change made directly in the database, and where verification must find it. */
export interface TamperCase {
  readonly name: string;
  readonly sql: (s: TamperSql) => string;
  readonly index: number;
  readonly problem: 'modified' | 'deleted' | 'inserted' | 'reordered' | 'truncated';
}

/** The tamperings every store is tested against, on a log of 10 records (sampleEvent 0..9) with a signed head. */
export const TAMPER_CASES: readonly TamperCase[] = [
  { name: 'edit', sql: () => `UPDATE audit_records SET leaf = replace(leaf, '"n":4', '"n":40') WHERE idx = 4`, index: 4, problem: 'modified' },
  {
    name: 'edit with its stored hash',
    sql: (s) => {
      const forged = s.leaf(4).replace('"n":4', '"n":40');
      return `UPDATE audit_records SET leaf = ${s.text(forged)}, leaf_hash = ${s.bytes(leafHash(forged))} WHERE idx = 4`;
    },
    index: 4,
    problem: 'modified',
  },
  { name: 'delete', sql: () => 'DELETE FROM audit_records WHERE idx = 6', index: 6, problem: 'deleted' },
  { name: 'delete and renumber', sql: () => 'DELETE FROM audit_records WHERE idx = 6; UPDATE audit_records SET idx = idx + 100 WHERE idx > 6; UPDATE audit_records SET idx = idx - 101 WHERE idx > 106', index: 6, problem: 'deleted' },
  {
    name: 'insert a forged record at 3, the rest moved up',
    sql: (s) => {
      const forged = s.leaf(3).replace('"n":3', '"n":333');
      return `UPDATE audit_records SET idx = idx + 100 WHERE idx >= 3; UPDATE audit_records SET idx = idx - 99 WHERE idx >= 103;
        INSERT INTO audit_records (idx, leaf, leaf_hash, time_ms, kind, agent_id, sandbox_id) VALUES (3, ${s.text(forged)}, ${s.bytes(leafHash(forged))}, 0, 'admission', 'agent-a', NULL)`;
    },
    index: 3,
    problem: 'inserted',
  },
  { name: 'reorder', sql: (s) => `UPDATE audit_records SET leaf = ${s.text(s.leaf(7))} WHERE idx = 2; UPDATE audit_records SET leaf = ${s.text(s.leaf(2))} WHERE idx = 7`, index: 2, problem: 'reordered' },
  { name: 'truncate', sql: () => 'DELETE FROM audit_records WHERE idx >= 8', index: 8, problem: 'truncated' },
  {
    name: 'edit the last record with its stored hash (only the signed head knows)',
    sql: (s) => {
      const forged = s.leaf(9).replace('"n":9', '"n":90');
      return `UPDATE audit_records SET leaf = ${s.text(forged)}, leaf_hash = ${s.bytes(leafHash(forged))} WHERE idx = 9`;
    },
    index: 0,
    problem: 'modified',
  },
];
