import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteStore } from '../store/index.ts';
import { runCli } from './test-cli.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A state directory and a copy of the shipped bundle with `extra` policies added (files by name). */
async function workspace(t: { after: (fn: () => Promise<void>) => void }, extra: Record<string, string>) {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-run-admission-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const bundle = join(dir, 'policies');
  await cp(join(ROOT, 'policies'), bundle, { recursive: true });
  for (const [name, text] of Object.entries(extra)) await writeFile(join(bundle, name), text);
  const config = join(dir, 'config.json');
  await writeFile(config, JSON.stringify({ stateDir: join(dir, 'state'), policy: { dir: bundle } }));
  return { dir, config };
}

const root = process.getuid?.() === 0;

test('airlock run is decided by the same Cedar policies as the API: a forbid refuses it before anything starts', { skip: root ? false : 'airlock run needs root' }, async (t) => {
  const { config } = await workspace(t, {
    'local.cedar': '@id("no-full-egress")\n@reason("full egress is off on this host")\nforbid (principal, action, resource)\nwhen { context has request && context.request.network.mode == "full" };\n',
  });
  const r = await runCli(['run', '--network', 'full', '--', 'true'], { config: config });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^airlock: refused \(forbidden\): denied by policy: full egress is off on this host \(no-full-egress\)\n$/);
});

test('a run policy sends to a human exits 3 with the approval to decide, and is recorded as pending', { skip: root ? false : 'airlock run needs root' }, async (t) => {
  const { dir, config } = await workspace(t, {
    // Operators too need an approval here: the shipped operator-all permit is replaced.
    'operators.cedar': '@id("operator-approved")\n@approval("required")\n@reason("operator runs need a second pair of eyes")\npermit (principal is Airlock::Operator, action, resource)\nwhen { context.approved };\n',
  });
  const r = await runCli(['run', '--', 'true'], { config: config });
  assert.equal(r.code, 3, r.stderr);
  const id = /approval (apr_[A-Za-z0-9_-]+), expires/.exec(r.stderr)?.[1];
  assert.ok(id !== undefined, r.stderr);
  assert.match(r.stderr, /airlock approvals approve apr_\S+ --key APPROVER\.key/);
  const store = await SqliteStore.open({ path: join(dir, 'state', 'store', 'airlock.db') });
  t.after(() => store.close());
  const approvals = await store.approvals.list();
  assert.deepEqual(approvals.map((a) => [a.id, a.requesterName, a.action]), [[id, 'root', 'execute']]);
  // Not yet decided: retrying with it is refused, naming why.
  const retry = await runCli(['run', '--approval', id, '--', 'true'], { config: config });
  assert.equal(retry.code, 1, retry.stderr);
  assert.match(retry.stderr, /^airlock: refused \(approval_pending\): /);
});

test('a run is recorded in the audit log: its admission before it starts, its end with a receipt that verifies', { skip: root ? false : 'airlock run needs root' }, async (t) => {
  // The host's default image, hard-linked into this test's own state directory.
  const { isolatedConfig, writeConfigFile } = await import('../../test/security/lib/isolated-config.ts');
  const { removeIsolatedState } = await import('../../test/security/lib/runtime.ts');
  const isolated = isolatedConfig();
  // Its cgroup parent and run directory too, not only the state directory.
  t.after(() => assert.deepEqual(removeIsolatedState(isolated), []));
  const dir = isolated.stateDir;
  const r = await runCli(['run', '--json', '--', 'true'], { config: writeConfigFile(isolated) });
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout) as { execution_id: string; receipt: unknown };
  const { readFile } = await import('node:fs/promises');
  const { createPublicKey } = await import('node:crypto');
  const { verifyReceipt } = await import('../audit/receipt.ts');
  const key = createPublicKey(await readFile(join(dir, 'store', 'controller.key.pub')));
  assert.deepEqual(verifyReceipt(result.receipt, key), { ok: true, index: 1, tree_size: 2 }, JSON.stringify(result.receipt));
  const store = await SqliteStore.open({ path: join(dir, 'store', 'airlock.db') });
  t.after(() => store.close());
  const { AuditLog } = await import('../audit/log.ts');
  const records = await new AuditLog({ store: store.audit }).query({ afterIndex: -1, limit: 100 });
  assert.deepEqual(records.map((x) => [x.index, x.record.kind, x.record.agent_id]), [[0, 'admission', 'root'], [1, 'execution.finished', 'root']]);
  assert.equal((records[0]?.record.data as { outcome: string }).outcome, 'allowed');
  assert.equal(records[1]?.record.sandbox_id, result.execution_id);
});

test('a revoked agent cannot run locally either: revocation is checked for airlock run as for the API', { skip: root ? false : 'airlock run needs root' }, async (t) => {
  const { dir, config } = await workspace(t, {});
  const store = await SqliteStore.open({ path: join(dir, 'state', 'store', 'airlock.db') });
  await store.revocations.revoke({ agentId: 'root', reason: 'key leaked', revokedBy: 'olga', revokedAtMs: Date.now() });
  await store.close();
  const r = await runCli(['run', '--', 'true'], { config: config });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^airlock: refused \(agent_revoked\): agent root is revoked since .*: key leaked\n$/);
});

test('airlock run reports what the service reports: a denied unshare and a refused core_pattern write are each a CRITICAL violation, and the sandbox is killed', { skip: root ? false : 'airlock run needs root' }, async (t) => {
  const { isolatedConfig, writeConfigFile } = await import('../../test/security/lib/isolated-config.ts');
  const { removeIsolatedState } = await import('../../test/security/lib/runtime.ts');
  const isolated = isolatedConfig();
  // Its cgroup parent and run directory too, not only the state directory.
  t.after(() => assert.deepEqual(removeIsolatedState(isolated), []));
  const config = writeConfigFile(isolated);
  // One attempt per run: the kill that answers the first CRITICAL may land before a second attempt.
  const cases = [
    { snippet: 'unshare -U true; sleep 5', layer: 'SECCOMP', pattern: 'namespace_escape' },
    { snippet: 'echo core > /proc/sys/kernel/core_pattern; sleep 5', layer: 'FILESYSTEM', pattern: 'kernel_tunable_write' },
  ];
  for (const { snippet, layer, pattern } of cases) {
    const r = await runCli(['run', '--json', '--', 'sh', '-c', snippet], { config });
    const result = JSON.parse(r.stdout) as { termination_reason: string; security_violations: Array<{ severity: string; detection_layer: string; indicators: Record<string, unknown> }> };
    const seen = result.security_violations.map((v) => [v.detection_layer, v.severity, v.indicators['pattern']]);
    assert.ok(seen.some(([l, severity, p]) => l === layer && severity === 'CRITICAL' && p === pattern), `${snippet}: ${JSON.stringify(seen)}`);
    // violations.response by default: CRITICAL kills (long before the sleep ends).
    assert.equal(result.termination_reason, 'killed', snippet);
  }
});

test('a refused run reports only the refusal: what its preparations met (an unknown image) stays unsaid, and its denial reader does not outlive it', { skip: root ? false : 'airlock run needs root' }, async (t) => {
  const { dir, config } = await workspace(t, {});
  const store = await SqliteStore.open({ path: join(dir, 'state', 'store', 'airlock.db') });
  await store.revocations.revoke({ agentId: 'root', reason: 'key leaked', revokedBy: 'olga', revokedAtMs: Date.now() });
  await store.close();
  // Bounded: a denial reader left running would keep the CLI from exiting.
  const r = await runCli(['run', '--image', 'no-such-image', '--', 'true'], { config: config, timeoutMs: 60_000 });
  // The denial reader is built and run from this test's state directory: nothing may still run from there.
  const { readdir, readlink } = await import('node:fs/promises');
  const left: string[] = [];
  for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    const exe = await readlink(`/proc/${pid}/exe`).catch(() => '');
    if (exe.startsWith(dir)) left.push(`${pid} ${exe}`);
  }
  for (const entry of left) process.kill(Number(entry.split(' ')[0]), 'SIGKILL');
  assert.deepEqual(left, []);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^airlock: refused \(agent_revoked\): agent root is revoked since .*: key leaked\n$/);
});
