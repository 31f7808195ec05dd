/** Helpers of the audit tests: a real SQLite store in a temporary directory, a controller key, events. */
import type { TestContext } from 'node:test';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import { tempStorePath } from '../store/test-helpers.ts';
import { generateEd25519KeyPair } from '../signing/keys.ts';
import { AuditLog } from './log.ts';
import type { AuditEvent } from './record.ts';

/** A store, a controller key and a log over them; closed after the test. */
export async function tempAuditLog(t: TestContext, path?: string) {
  const where = path ?? (await tempStorePath(t)).path;
  const store = await SqliteStore.open({ path: where });
  t.after(() => store.close());
  const keys = generateEd25519KeyPair();
  const log = new AuditLog({ store: store.audit, signingKey: keys.privateKey });
  return { store, log, path: where, ...keys };
}

/** An admission event of agent `agent` on sandbox `sandbox`. */
export function sampleEvent(n: number, agent = 'agent-a', sandbox: string | null = null): AuditEvent {
  return { kind: 'admission', agentId: agent, sandboxId: sandbox, actor: { name: agent, role: 'agent', agent_id: agent }, data: { action: 'exec', outcome: 'allowed', n } };
}
