/**
 * Child of the kill -9 test: appends to the audit log at `argv[2]` without end, several appends in
 * flight at a time, and prints the index of each record once its append has resolved (committed).
 */
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import { AuditLog } from './log.ts';
import { sampleEvent } from './test-audit.ts';

const store = await SqliteStore.open({ path: process.argv[2] as string });
const log = new AuditLog({ store: store.audit });
for (let n = 0; ; n++) {
  const batch = await Promise.all(Array.from({ length: 4 }, (_, i) => log.append(sampleEvent(n * 4 + i, `agent-${i}`))));
  process.stdout.write(batch.map((r) => `${r.index}\n`).join(''));
}
