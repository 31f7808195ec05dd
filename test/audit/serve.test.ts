/**
 * The audit log in the real `airlock serve` with real namespace sandboxes: the controller key is
 * created beside the store on first start, a one-shot's result and a deleted sandbox carry receipts
 * that `airlock receipt verify` accepts with that key, /health reports the log, and after a kill -9
 * of the server `airlock audit verify` finds the log intact.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli } from '../../src/cli/test-cli.ts';
import { storePath } from '../../src/store/index.ts';
import { skipReason } from '../integration/environment.ts';
import { withUnsignedLoopbackOperator, writeConfigFile } from '../security/lib/isolated-config.ts';
import { isolatedConfig, removeIsolatedState } from '../security/lib/runtime.ts';
import { stretched } from '../security/lib/emulation.ts';

const config = isolatedConfig();
const configFile = writeConfigFile(withUnsignedLoopbackOperator(config));
const reason = skipReason(config)('namespace');
after(() => {
  const problems = removeIsolatedState(config);
  if (problems.length > 0) process.stderr.write(`audit serve test cleanup: ${problems.join('; ')}\n`);
});

async function startServer(): Promise<{ child: ChildProcess; url: string; log: () => string }> {
  const child = spawn(process.execPath, ['bin/airlock.js', 'serve', '--port', '0', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  for (let i = 0; i < stretched(300); i++) {
    const match = /"address":"(http:\/\/[^"]+)"/.exec(log);
    if (match?.[1] !== undefined) return { child, url: match[1], log: () => log };
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`server did not start:\n${log}`);
}

async function call(method: string, url: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
  const json = (await res.json()) as Record<string, unknown>;
  assert.ok(res.ok, `${method} ${url}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

test('serve: receipts from real sandboxes verify offline; kill -9 leaves a log that verifies', { skip: reason, timeout: stretched(120_000) }, async () => {
  const server = await startServer();
  const keyFile = join(storePath(config), '..', 'controller.key');
  try {
    assert.equal(statSync(keyFile).mode & 0o777, 0o600, 'the controller key is private');
    const health = await call('GET', `${server.url}/health`);
    assert.deepEqual({ ...(health['audit'] as object), tree_size: undefined }, { writable: true, reason: null, since: null, tree_size: undefined });
    assert.ok(((health['audit'] as { tree_size: number }).tree_size) >= 1, 'policy.loaded is recorded at start');

    const run = await call('POST', `${server.url}/api/v1/sandbox/execute`, { agent_id: 'loopback', command: ['echo', 'audited'] });
    assert.equal(run['exit_code'], 0, JSON.stringify(run));
    const receiptFile = join(config.stateDir, 'result.json');
    writeFileSync(receiptFile, JSON.stringify(run));
    const verified = await runCli(['receipt', 'verify', receiptFile, '--key', `${keyFile}.pub`]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, /^OK: record \d+ \(execution\.finished/);

    const created = await call('POST', `${server.url}/api/v1/sandboxes`, {});
    const ended = await call('DELETE', `${server.url}/api/v1/sandboxes/${String(created['sandbox_id'])}`);
    writeFileSync(receiptFile, JSON.stringify(ended));
    const endedReceipt = ended['receipt'] as { record: { kind: string; data: { end_reason: string; image_digest: string } } };
    assert.equal(endedReceipt.record.kind, 'sandbox.ended');
    assert.equal(endedReceipt.record.data.end_reason, 'killed');
    assert.match(endedReceipt.record.data.image_digest, /^sha256:/);
    assert.equal((await runCli(['receipt', 'verify', receiptFile, '--key', `${keyFile}.pub`])).code, 0);

    const records = (await call('GET', `${server.url}/api/v1/audit?sandbox=${String(created['sandbox_id'])}`))['records'] as Array<{ kind: string }>;
    assert.deepEqual([...new Set(records.map((r) => r.kind))].sort(), ['admission', 'sandbox.created', 'sandbox.ended']);
  } finally {
    server.child.kill('SIGKILL');
    await new Promise((resolve) => server.child.once('close', resolve));
  }
  const check = await runCli(['audit', 'verify', '--json'], { config: configFile });
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.equal(JSON.parse(check.stdout).ok, true);
  // A second server reaps what the killed one left (its network pool) and, stopped cleanly, signs a last head.
  const second = await startServer();
  second.child.kill('SIGTERM');
  await new Promise((resolve) => second.child.once('close', resolve));
  assert.equal(second.child.exitCode, 0, second.log());
  const final = JSON.parse((await runCli(['audit', 'verify', '--json'], { config: configFile })).stdout) as { ok: boolean; size: number; heads_checked: number };
  assert.equal(final.ok, true);
  assert.ok(final.heads_checked >= 2, 'the heads of both servers are checked');
});
