/**
 * The audit writer thread: leaves built for a tree end that moved (another writer appended) are
 * rebuilt, never written out of chain; the WAL is checkpointed by the checkpoint thread; a writer
 * thread that cannot open the store fails the append closed, and the next append starts another.
 */
import assert from 'node:assert/strict';
import { mkdirSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { AuditUnavailable } from '../../audit/errors.ts';
import { AuditLog } from '../../audit/log.ts';
import { sampleEvent } from '../../audit/test-audit.ts';
import { verifyLog } from '../../audit/verify-log.ts';
import { generateEd25519KeyPair } from '../../signing/keys.ts';
import { tempStorePath } from '../test-helpers.ts';
import { SqliteAuditWriter } from './audit-writer.ts';
import { SqliteStore } from './sqlite-store.ts';

test('two writers on one file (as two processes would be) interleave into one chain that verifies', async (t) => {
  const { path } = await tempStorePath(t);
  const a = await SqliteStore.open({ path, auditWriter: 'worker' });
  const b = await SqliteStore.open({ path, auditWriter: 'worker' });
  t.after(async () => {
    await a.close();
    await b.close();
  });
  assert.ok(a.audit instanceof SqliteAuditWriter, 'appends go through the writer thread');
  const keys = generateEd25519KeyPair();
  const logA = new AuditLog({ store: a.audit, signingKey: keys.privateKey });
  const logB = new AuditLog({ store: b.audit });
  const indexes: number[] = [];
  for (let i = 0; i < 6; i++) {
    const [x, y] = await Promise.all([logA.append(sampleEvent(i, 'agent-a')), logB.append(sampleEvent(i, 'agent-b'))]);
    indexes.push(x.index, y.index);
  }
  assert.deepEqual([...indexes].sort((p, q) => p - q), Array.from({ length: 12 }, (_, i) => i));
  const rows = await a.audit.rows(0, 100);
  for (let i = 1; i < rows.length; i++) {
    assert.equal(JSON.parse((rows[i] as { leaf: string }).leaf).prev, (rows[i - 1] as { leafHash: Buffer }).leafHash.toString('hex'), `record ${i} chains to ${i - 1}`);
  }
  await logA.signHead();
  assert.deepEqual(await verifyLog((f, l) => b.audit.rows(f, l), await logA.heads(), keys.publicKey), { ok: true, size: 12, root_hash: (await logA.latestHead())?.root_hash, heads_checked: 1 });
});

test('the checkpoint thread copies the WAL back into the database while appends go on', async (t) => {
  const { path } = await tempStorePath(t);
  const store = await SqliteStore.open({ path, auditWriter: 'worker' });
  t.after(() => store.close());
  const log = new AuditLog({ store: store.audit });
  const before = statSync(path).size;
  for (let i = 0; i < 400; i++) await Promise.all(Array.from({ length: 4 }, (_, j) => log.append(sampleEvent(i * 4 + j))));
  // The checkpoint interval is 500 ms: wait for at least two.
  await new Promise((resolve) => setTimeout(resolve, 1200));
  assert.ok(statSync(path).size > before + 400 * 1024, `the database file grew from ${before} to ${statSync(path).size} bytes: the WAL was checkpointed into it`);
});

test('fail closed: a writer thread that cannot open the store rejects the append and the log says why; the next append starts a new one', async (t) => {
  const { dir, path } = await tempStorePath(t);
  const store = await SqliteStore.open({ path });
  t.after(() => store.close());
  // The writer's path is in a directory that does not exist yet: its connection cannot be opened.
  const later = join(dir, 'later');
  const writer = new SqliteAuditWriter(store.audit as never, { path: join(later, 'airlock.db'), busyTimeoutMs: 1000, sync: 'full' });
  t.after(() => writer.close());
  const log = new AuditLog({ store: writer });
  await assert.rejects(log.append(sampleEvent(0)), (err: unknown) => err instanceof AuditUnavailable && /unable to open/i.test(err.message));
  assert.equal(log.health.writable, false);
  assert.match(String(log.health.reason), /unable to open/i);
  assert.equal(await log.size(), 0, 'nothing was written');
  mkdirSync(later);
  symlinkSync(path, join(later, 'airlock.db'));
  assert.equal((await log.append(sampleEvent(1))).index, 0);
  assert.deepEqual(log.health, { writable: true, reason: null, since: null });
});
