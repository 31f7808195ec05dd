/**
 * Child of the kill -9 tests: appends to the audit log in argv[2] (a SQLite file, or a postgres://
 * URL) without end, several appends in flight at a time, and prints the index of each record once
 * its append has resolved (committed).
 */
import type { AuditStore } from '../store/audit.ts';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import { AuditLog } from './log.ts';
import { sampleEvent } from './test-audit.ts';

async function open(target: string): Promise<AuditStore> {
  if (!target.startsWith('postgres://')) return (await SqliteStore.open({ path: target, auditWriter: 'worker' })).audit;
  const pg = (await import('pg')).default;
  const { PostgresAuditStore } = await import('../store/postgres/audit-store.ts');
  return PostgresAuditStore.open(new pg.Pool({ connectionString: target }));
}

const store = await open(process.argv[2] as string);
const log = new AuditLog({ store });
for (let n = 0; ; n++) {
  const batch = await Promise.all(Array.from({ length: 4 }, (_, i) => log.append(sampleEvent(n * 4 + i, `agent-${i}`))));
  process.stdout.write(batch.map((r) => `${r.index}\n`).join(''));
}
