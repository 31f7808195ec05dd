/**
 * The audit log on a real PostgreSQL server (Debian's, started on loopback by the test): the same
 * proofs, receipts and tamper cases as on SQLite, two controllers appending to one log at once, a
 * server outage (fail closed, then recovery), and kill -9 of a writer mid-append.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import pg from 'pg';
import { openControllerAudit } from '../../src/audit/open.ts';
import { runCli } from '../../src/cli/test-cli.ts';
import { DEFAULT_CONFIG } from '../../src/config/config.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { AuditUnavailable } from '../../src/audit/errors.ts';
import { AuditLog } from '../../src/audit/log.ts';
import { verifyConsistency, verifyInclusion } from '../../src/audit/merkle.ts';
import { verifyReceipt } from '../../src/audit/receipt.ts';
import { sampleEvent, TAMPER_CASES } from '../../src/audit/test-audit.ts';
import { verifyLog } from '../../src/audit/verify-log.ts';
import { generateEd25519KeyPair } from '../../src/signing/keys.ts';
import { PostgresAuditStore } from '../../src/store/postgres/audit-store.ts';
import { postgresSkipReason, startPostgres, type PostgresServer } from './postgres-server.ts';

const skip = postgresSkipReason();

/** A pool on its own schema (one log per schema), ended after the test. */
async function pool(t: TestContext, server: PostgresServer, schema: string): Promise<pg.Pool> {
  const admin = new pg.Pool({ connectionString: server.url, max: 1 });
  await admin.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await admin.end();
  const p = new pg.Pool({ connectionString: server.url, options: `-c search_path=${schema}`, max: 4 });
  // An idle client that loses its server must not crash the process (the outage test).
  p.on('error', () => undefined);
  t.after(() => p.end());
  return p;
}

describe('audit log on PostgreSQL', { skip }, () => {
  it('appends, proofs against signed heads, receipts, tampering found at the right index', async (t) => {
    const server = await startPostgres(t);
    const keys = generateEd25519KeyPair();
    const store = await PostgresAuditStore.open(await pool(t, server, 'main'));
    const log = new AuditLog({ store, signingKey: keys.privateKey });
    const first = await Promise.all(Array.from({ length: 5 }, (_, i) => log.append(sampleEvent(i))));
    assert.deepEqual(first.map((r) => r.index), [0, 1, 2, 3, 4]);
    const head5 = await log.signHead();
    for (let i = 0; i < 13; i++) await log.append(sampleEvent(5 + i));
    const head18 = await log.signHead();
    for (const { index, leafHash } of first) assert.ok(verifyInclusion(index, 18, leafHash, await log.inclusionProof(index, 18), Buffer.from(head18.root_hash, 'hex')));
    assert.ok(verifyConsistency(5, 18, Buffer.from(head5.root_hash, 'hex'), Buffer.from(head18.root_hash, 'hex'), await log.consistencyProof(5, 18)));
    assert.deepEqual(verifyReceipt(await log.receipt(7), keys.publicKey), { ok: true, index: 7, tree_size: 18 });
    assert.deepEqual(await log.verifyStored(), { ok: true, size: 18, root_hash: head18.root_hash, heads_checked: 2 });
    assert.equal((await log.query({ agentId: 'agent-a', limit: 100 })).length, 18);

    for (const [n, c] of TAMPER_CASES.entries()) {
      const p = await pool(t, server, `tamper${n}`);
      const caseStore = await PostgresAuditStore.open(p);
      const caseLog = new AuditLog({ store: caseStore, signingKey: keys.privateKey });
      for (let i = 0; i < 10; i++) await caseLog.append(sampleEvent(i));
      await caseLog.signHead();
      const rows = await caseStore.rows(0, 100);
      const client = await p.connect();
      try {
        // The trigger stops mistakes; someone tampering drops it first.
        await client.query('DROP TRIGGER audit_records_no_change ON audit_records');
        await client.query(c.sql({ leaf: (i) => (rows[i] as { leaf: string }).leaf, text: (v) => `'${v.replaceAll("'", "''")}'`, bytes: (b) => `'\\x${b.toString('hex')}'::bytea` }));
      } finally {
        client.release();
      }
      const check = await verifyLog((from, limit) => caseStore.rows(from, limit), await caseStore.heads(), keys.publicKey);
      assert.deepEqual([check.ok, (check as { index: number }).index, (check as { problem: string }).problem], [false, c.index, c.problem], `${c.name}: ${JSON.stringify(check)}`);
    }
  });

  it('two controllers append to one log at once: consecutive indexes, one chain, a log that verifies', async (t) => {
    const server = await startPostgres(t);
    const keys = generateEd25519KeyPair();
    const a = new AuditLog({ store: await PostgresAuditStore.open(await pool(t, server, 'shared')), signingKey: keys.privateKey });
    const b = new AuditLog({ store: await PostgresAuditStore.open(await pool(t, server, 'shared')), signingKey: keys.privateKey });
    const appended = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? a : b).append(sampleEvent(i, i % 2 === 0 ? 'from-a' : 'from-b'))));
    assert.deepEqual(appended.map((r) => r.index).sort((x, y) => x - y), Array.from({ length: 60 }, (_, i) => i));
    await a.signHead();
    const check = await b.verifyStored(keys.publicKey);
    assert.deepEqual([check.ok, (check as { size: number }).size], [true, 60]);
  });

  it('fail closed: with the server down the append is refused and the log says why; it recovers when the server is back', async (t) => {
    const server = await startPostgres(t);
    const log = new AuditLog({ store: await PostgresAuditStore.open(await pool(t, server, 'outage')) });
    await log.append(sampleEvent(0));
    server.stop('immediate');
    await assert.rejects(log.append(sampleEvent(1)), AuditUnavailable);
    assert.equal(log.health.writable, false);
    assert.match(String(log.health.reason), /ECONNREFUSED|terminat|connect|shut/i);
    server.start();
    // The pool may still hold connections to the stopped server: each failed try discards one.
    let appended = false;
    for (let i = 0; i < 5 && !appended; i++) appended = await log.append(sampleEvent(2)).then(() => true, () => false);
    assert.ok(appended, 'the log takes records again once the server is back');
    assert.equal(log.health.writable, true);
    assert.equal(await log.size(), 2, 'the refused record was never written');
  });

  it('audit.postgresUrl: the controller keeps its log there, and airlock audit verify checks it there', async (t) => {
    const server = await startPostgres(t);
    const dir = await mkdtemp(join(tmpdir(), 'airlock-pg-cli-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const configFile = join(dir, 'config.json');
    const config = { stateDir: join(dir, 'state'), runDir: join(dir, 'run'), audit: { postgresUrl: server.url } };
    await writeFile(configFile, JSON.stringify(config));
    const dbPath = join(dir, 'state', 'store', 'airlock.db');
    const sqlite = await SqliteStore.open({ path: dbPath });
    t.after(() => sqlite.close());
    const audit = await openControllerAudit({ audit: { ...DEFAULT_CONFIG.audit, postgresUrl: server.url } }, dbPath, sqlite.audit);
    t.after(() => audit.close());
    for (let i = 0; i < 5; i++) await audit.log.append(sampleEvent(i));
    await audit.log.signHead();
    assert.equal(await sqlite.audit.size(), 0, 'nothing went to the SQLite store');
    const check = await runCli(['audit', 'verify', '--json'], { config: configFile });
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.deepEqual([JSON.parse(check.stdout).ok, JSON.parse(check.stdout).size], [true, 5]);
  });

  it('kill -9 of a writer mid-append loses no committed record and leaves a log that verifies', async (t) => {
    const server = await startPostgres(t);
    const keys = generateEd25519KeyPair();
    const p = await pool(t, server, 'public');
    const store = await PostgresAuditStore.open(p);
    const child = spawn(process.execPath, [join(import.meta.dirname, '../../src/audit/kill-append.fixture.ts'), server.url], { stdio: ['ignore', 'pipe', 'inherit'] });
    const committed: number[] = [];
    let buffered = '';
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) committed.push(Number(line));
        if (committed.length >= 200 && child.exitCode === null) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.once('exit', () => resolve());
    });
    await new Promise((resolve) => child.once('close', resolve));
    assert.equal(child.signalCode, 'SIGKILL');
    const rows = await store.rows(0, 100_000);
    for (const index of committed) assert.equal(rows[index]?.index, index, `committed record ${index} is there`);
    const check = await verifyLog((from, limit) => store.rows(from, limit), [], keys.publicKey);
    assert.equal(check.ok, true, JSON.stringify(check));
  });
});
