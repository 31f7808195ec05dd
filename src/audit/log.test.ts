/**
 * The audit log on the real SQLite store: appends, proofs against signed heads, receipts, tamper
 * detection by direct edits of the database, a store that cannot be written, and kill -9 mid-append.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { execFileSync } from 'node:child_process';
import { loadSqlite } from '../store/sqlite/load-sqlite.ts';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import { AuditUnavailable } from './errors.ts';
import { AuditLog } from './log.ts';
import { leafHash, verifyConsistency, verifyInclusion } from './merkle.ts';
import { recordLeaf } from './record.ts';
import { verifyReceipt } from './receipt.ts';
import { sampleEvent, TAMPER_CASES, tempAuditLog, type TamperCase } from './test-audit.ts';
import { verifyTreeHead } from './tree-head.ts';
import { verifyLog } from './verify-log.ts';

test('appends get consecutive indexes; proofs verify against signed heads; heads are consistent', async (t) => {
  const { log, publicKey } = await tempAuditLog(t);
  const first = await Promise.all(Array.from({ length: 5 }, (_, i) => log.append(sampleEvent(i))));
  assert.deepEqual(first.map((r) => r.index), [0, 1, 2, 3, 4]);
  assert.equal(first[1]?.record.prev, first[0]?.leafHash.toString('hex'));
  const head5 = await log.signHead();
  assert.equal(head5.tree_size, 5);
  assert.ok(verifyTreeHead(head5, publicKey));
  for (let i = 0; i < 13; i++) await log.append(sampleEvent(5 + i));
  const head18 = await log.signHead();
  assert.equal(head18.tree_size, 18);
  assert.equal((await log.signHead()).signature, head18.signature, 'an unchanged log is not signed again');
  for (const { index, leafHash: leaf } of first) {
    const proof = await log.inclusionProof(index, 18);
    assert.ok(verifyInclusion(index, 18, leaf, proof, Buffer.from(head18.root_hash, 'hex')), `record ${index}`);
  }
  const consistency = await log.consistencyProof(5, 18);
  assert.ok(verifyConsistency(5, 18, Buffer.from(head5.root_hash, 'hex'), Buffer.from(head18.root_hash, 'hex'), consistency));
  assert.deepEqual(await log.verifyStored(), { ok: true, size: 18, root_hash: head18.root_hash, heads_checked: 2 });
  const check = await verifyLog((from, limit) => log.rows(from, limit), await log.heads(), publicKey);
  assert.equal(check.ok, true);
});

test('a receipt verifies offline with the controller key, and any change to it is refused', async (t) => {
  const { log, publicKey } = await tempAuditLog(t);
  for (let i = 0; i < 6; i++) await log.append(sampleEvent(i));
  const receipt = await log.receipt(3);
  assert.deepEqual(verifyReceipt(JSON.parse(JSON.stringify(receipt)), publicKey), { ok: true, index: 3, tree_size: 6 });
  const edited = structuredClone(receipt) as unknown as { record: { data: { n: number } } };
  edited.record.data.n = 99;
  assert.match(String((verifyReceipt(edited, publicKey) as { reason: string }).reason), /record was changed/);
  const moved = structuredClone(receipt) as unknown as { record: { index: number }; leaf_hash: string };
  moved.record.index = 2;
  moved.leaf_hash = leafHash(recordLeaf(moved.record as never)).toString('hex');
  assert.equal(verifyReceipt(moved, publicKey).ok, false);
  const otherKey = (await tempAuditLog(t)).publicKey;
  assert.match(String((verifyReceipt(receipt, otherKey) as { reason: string }).reason), /not signed by this controller key/);
});

/** Opens the store file with a connection of its own, as an operator with database access would. */
function tamper(path: string, sql: string): void {
  const { DatabaseSync } = loadSqlite();
  const db = new DatabaseSync(path);
  try {
    // The triggers stop mistakes; someone tampering drops them first.
    db.exec('DROP TRIGGER IF EXISTS audit_records_no_update; DROP TRIGGER IF EXISTS audit_records_no_delete;');
    db.exec(sql);
  } finally {
    db.close();
  }
}

async function tamperedLog(t: test.TestContext, sql: TamperCase['sql']) {
  const { log, path, publicKey, store } = await tempAuditLog(t);
  for (let i = 0; i < 10; i++) await log.append(sampleEvent(i));
  await log.signHead();
  const rows = await log.rows(0, 100);
  tamper(path, sql({ leaf: (i) => (rows[i] as { leaf: string }).leaf, text: (v) => `'${v.replaceAll("'", "''")}'`, bytes: (b) => `X'${b.toString('hex')}'` }));
  return verifyLog((from, limit) => store.audit.rows(from, limit), await log.heads(), publicKey);
}

test('tampering in the database is found at the right index: edit (with and without the stored hash), delete, insert, reorder, truncate', async (t) => {
  for (const c of TAMPER_CASES) {
    const check = await tamperedLog(t, c.sql);
    assert.equal(check.ok, false, c.name);
    assert.deepEqual([(check as { index: number }).index, (check as { problem: string }).problem], [c.index, c.problem], `${c.name}: ${JSON.stringify(check)}`);
  }
});

test('a forged head is refused; a head held outside the store catches a rewritten log', async (t) => {
  const { log, publicKey, store, path } = await tempAuditLog(t);
  for (let i = 0; i < 4; i++) await log.append(sampleEvent(i));
  const kept = await log.signHead();
  const forged = { ...kept, root_hash: '00'.repeat(32) };
  const check = await verifyLog((f, l) => store.audit.rows(f, l), [forged], publicKey);
  assert.equal((check as { problem: string }).problem, 'head_signature');
  // Everything rewritten from record 1 on, stored heads deleted: only the head held elsewhere knows.
  tamper(path, 'DELETE FROM audit_heads; DELETE FROM audit_records WHERE idx >= 1; DELETE FROM audit_nodes;');
  const reopened = await SqliteStore.open({ path });
  t.after(() => reopened.close());
  const rewritten = new AuditLog({ store: reopened.audit });
  for (let i = 1; i < 4; i++) await rewritten.append(sampleEvent(100 + i));
  const outside = await verifyLog((f, l) => reopened.audit.rows(f, l), [kept], publicKey);
  assert.deepEqual([(outside as { index: number }).index, (outside as { problem: string }).problem], [0, 'modified']);
});

test('fail closed: a store that cannot be written rejects the append, writes nothing, and the log says why until it can write again', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-audit-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    t.skip(`cannot mount a small tmpfs to fill: ${(err as Error).message}`);
    return;
  }
  const { log, store } = await tempAuditLog(t, join(dir, 'store', 'airlock.db'));
  t.after(async () => {
    await store.close();
    execFileSync('umount', [dir]);
    await rm(dir, { recursive: true, force: true });
  });
  await log.append(sampleEvent(0));
  assert.equal(log.health.writable, true);
  // Fill the file system the store lives on.
  await writeFile(join(dir, 'filler'), Buffer.alloc(1024 * 1024)).catch(() => undefined);
  const big = { ...sampleEvent(1), data: { blob: 'x'.repeat(200_000) } };
  await assert.rejects(log.append(big), (err: unknown) => err instanceof AuditUnavailable && /full/i.test(err.message));
  assert.equal(log.health.writable, false);
  assert.match(String(log.health.reason), /full/i);
  assert.equal(await log.size(), 1, 'nothing of the failed append was written');
  await rm(join(dir, 'filler'));
  await log.append(sampleEvent(2));
  assert.deepEqual(log.health, { writable: true, reason: null, since: null });
  assert.equal((await log.verifyStored()).ok, true);
});

test('kill -9 mid-append loses no committed record and leaves a log that verifies', async (t) => {
  const { path, log, publicKey } = await tempAuditLog(t);
  await log.append(sampleEvent(0));
  const child = spawn(process.execPath, [join(import.meta.dirname, 'kill-append.fixture.ts'), path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const committed: number[] = [];
  let buffered = '';
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) committed.push(Number(line));
      if (committed.length >= 300 && child.exitCode === null) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.once('exit', () => resolve());
  });
  await new Promise((resolve) => child.once('close', resolve));
  assert.equal(child.signalCode, 'SIGKILL', 'the writer was killed mid-run, not finished');
  const reopened = await SqliteStore.open({ path });
  t.after(() => reopened.close());
  const after = new AuditLog({ store: reopened.audit });
  const size = await after.size();
  assert.ok(size >= 1 + committed.length, `${size} records, ${committed.length} reported committed`);
  const rows = await after.rows(0, size);
  for (const index of committed) assert.equal(rows[index]?.index, index, `committed record ${index} is there`);
  const check = await verifyLog((f, l) => reopened.audit.rows(f, l), [], publicKey);
  assert.equal(check.ok, true, JSON.stringify(check));
});
