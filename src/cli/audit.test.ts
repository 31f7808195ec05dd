/**
 * `airlock audit verify`, `airlock audit tail` and `airlock receipt verify`, run as the real CLI
 * against a real store in a temporary state directory, with the controller key where `serve` keeps it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type TestContext } from 'node:test';
import { openControllerAudit } from '../audit/open.ts';
import { sampleEvent } from '../audit/test-audit.ts';
import { loadSqlite } from '../store/sqlite/load-sqlite.ts';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import { runCli, startCli } from './test-cli.ts';

async function fixture(t: TestContext) {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-audit-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, 'config.json');
  await writeFile(config, JSON.stringify({ stateDir: join(dir, 'state'), runDir: join(dir, 'run') }));
  const dbPath = join(dir, 'state', 'store', 'airlock.db');
  const store = await SqliteStore.open({ path: dbPath });
  t.after(() => store.close());
  const audit = await openControllerAudit({ audit: { keyFile: null, headIntervalSeconds: 60, sync: 'full', postgresUrl: null } }, dbPath, store.audit);
  for (let i = 0; i < 6; i++) await audit.log.append(sampleEvent(i, i % 2 === 0 ? 'alice' : 'bob', `sb-${i % 3}`));
  const head = await audit.log.signHead();
  return { dir, config, dbPath, store, audit, head };
}

test('audit verify: OK on an intact log; names the first edited index (exit 1); a head held elsewhere is checked too', async (t) => {
  const f = await fixture(t);
  const ok = await runCli(['audit', 'verify'], { config: f.config });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, new RegExp(`^OK: 6 records, root ${f.head.root_hash}, 1 signed heads checked`));

  const headFile = join(f.dir, 'head.json');
  await writeFile(headFile, JSON.stringify(f.head));
  const { DatabaseSync } = loadSqlite();
  const db = new DatabaseSync(f.dbPath);
  db.exec(`DROP TRIGGER audit_records_no_update; UPDATE audit_records SET leaf = replace(leaf, '"n":2', '"n":7') WHERE idx = 2;`);
  db.close();
  const bad = await runCli(['audit', 'verify', '--from-head', headFile, '--json'], { config: f.config });
  assert.equal(bad.code, 1);
  assert.deepEqual([JSON.parse(bad.stdout).index, JSON.parse(bad.stdout).problem], [2, 'modified']);

  await writeFile(headFile, '{"tree_size": "six"}');
  const usage = await runCli(['audit', 'verify', '--from-head', headFile], { config: f.config });
  assert.equal(usage.code, 2, usage.stderr);
  assert.match(usage.stderr, /tree_size/);
});

test('receipt verify: OK for a receipt from the log, INVALID (exit 1) once changed, usage error without a key file', async (t) => {
  const f = await fixture(t);
  const receipt = await f.audit.log.receipt(4);
  const file = join(f.dir, 'receipt.json');
  await writeFile(file, JSON.stringify({ execution_id: 'x', receipt }));
  const ok = await runCli(['receipt', 'verify', file, '--key', f.audit.publicKeyPath]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^OK: record 4 \(admission, .*\) is in the log of 6 records/);
  await writeFile(file, JSON.stringify({ ...receipt, record: { ...receipt.record, agent_id: 'mallory' } }));
  const bad = await runCli(['receipt', 'verify', file, '--key', f.audit.publicKeyPath]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /^INVALID: leaf_hash does not match the record/);
  const noKey = await runCli(['receipt', 'verify', file, '--key', join(f.dir, 'missing.pub')]);
  assert.equal(noKey.code, 2);
});

test('audit tail: the last records by agent and sandbox; -f prints new records as they are committed', async (t) => {
  const f = await fixture(t);
  const tail = await runCli(['audit', 'tail', '--agent', 'alice', '-n', '2'], { config: f.config });
  assert.equal(tail.code, 0, tail.stderr);
  const lines = tail.stdout.trim().split('\n');
  assert.deepEqual(lines.map((l) => l.split(' ')[0]), ['#2', '#4']);
  assert.ok(lines.every((l) => l.includes('agent=alice')));
  const bySandbox = await runCli(['audit', 'tail', '--sandbox', 'sb-1', '--json'], { config: f.config });
  assert.deepEqual(bySandbox.stdout.trim().split('\n').map((l) => JSON.parse(l).index), [1, 4]);

  const follow = startCli(['audit', 'tail', '-f', '-n', '0', '--agent', 'bob'], { config: f.config });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await f.audit.log.append(sampleEvent(100, 'bob'));
  await f.audit.log.append(sampleEvent(101, 'alice'));
  const deadline = Date.now() + 10_000;
  let out = '';
  follow.child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  while (!out.includes('#6 ') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  follow.child.kill('SIGINT');
  const done = await follow.done;
  assert.match(done.stdout, /^#6 .* agent=bob/m);
  assert.doesNotMatch(done.stdout, /#7 /);
});

test('principal and key changes made with the CLI are recorded', async (t) => {
  const f = await fixture(t);
  const { writeNewKeyPair } = await import('../signing/key-files.ts');
  const key = await writeNewKeyPair(join(f.dir, 'carol'));
  const add = await runCli(['principals', 'add', 'carol', '--role', 'agent', '--key', key.publicKeyPath], { config: f.config });
  assert.equal(add.code, 0, add.stderr);
  const revoke = await runCli(['principals', 'revoke-key', key.keyId], { config: f.config });
  assert.equal(revoke.code, 0, revoke.stderr);
  const tail = await runCli(['audit', 'tail', '--agent', 'carol', '--json'], { config: f.config });
  const records = tail.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; data: { key_id: string } });
  assert.deepEqual(records.map((r) => [r.kind, r.data.key_id]), [['principal.added', key.keyId], ['key.revoked', key.keyId]]);
  assert.equal((await runCli(['audit', 'verify'], { config: f.config })).code, 0);
});
