/**
 * Crash recovery and graceful shutdown of the real server: `kill -9` it with running sandboxes on
 * both runtimes (and a restricted network), start it again, and nothing of the first one's
 * sandboxes or networks may remain; SIGTERM
 * ends every sandbox and leaves nothing behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../src/config/config.ts';
import { findLeftovers } from '../../src/isolation/leftovers.ts';
import { skipReason } from './environment.ts';
import { networkPieces } from './network-pieces.ts';

const config = loadConfig();
const reason = skipReason(config)('namespace');
const gvisorReason = skipReason(config)('gvisor');

interface Server {
  child: ChildProcess;
  url: string;
  log: () => string;
}

async function startServer(): Promise<Server> {
  const child = spawn(process.execPath, ['bin/airlock.js', 'serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  for (let i = 0; i < 300; i++) {
    const match = /"address":"(http:\/\/[^"]+)"/.exec(log);
    if (match?.[1] !== undefined) return { child, url: match[1], log: () => log };
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`server did not start:\n${log}`);
}

async function post(url: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.json()) as Record<string, unknown>;
  assert.ok(res.ok, `POST ${url}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

test('kill -9 with running sandboxes, restart: the new server reaps every leftover', { skip: reason, timeout: 120_000 }, async () => {
  // Compared against what was there before, so an unrelated earlier leftover can't mask or fake a result.
  const before = new Set([...findLeftovers(config), ...networkPieces()]);
  const added = () => [...findLeftovers(config), ...networkPieces()].filter((x) => !before.has(x));
  const first = await startServer();
  const runtimes = gvisorReason === false ? ['namespace', 'gvisor'] : ['namespace'];
  for (const runtime of runtimes) {
    const info = await post(`${first.url}/api/v1/sandboxes`, { runtime });
    // A running command inside, so there are live processes to reap.
    void fetch(`${first.url}/api/v1/sandboxes/${String(info['sandbox_id'])}/exec`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ command: ['sleep', '300'] }),
    }).catch(() => undefined);
  }
  // A restricted sandbox too: its namespace, link, table and proxy must be reaped as well (the
  // server's pool of ready namespaces is left behind by the crash just the same).
  await post(`${first.url}/api/v1/sandboxes`, { runtime: 'namespace', network_policy: 'restricted', allowed_hosts: ['example.com'] });
  await sleep(500);
  assert.ok(added().length > 0, 'sandboxes are running');
  assert.ok(added().some((x) => x.startsWith('netns airlock-n')), 'the restricted sandbox has its namespace');
  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('close', resolve));
  const second = await startServer();
  try {
    assert.match(second.log(), /reaped sandboxes left by a previous controller/);
    const health = (await (await fetch(`${second.url}/health`)).json()) as { status: string };
    assert.equal(health.status, 'healthy');
  } finally {
    second.child.kill('SIGTERM');
    await new Promise((resolve) => second.child.once('close', resolve));
  }
  assert.equal(second.child.exitCode, 0, second.log());
  // Killed processes take a moment to be gone from /proc: allow it a short, bounded wait.
  for (let i = 0; i < 30 && added().length > 0; i++) await sleep(100);
  assert.deepEqual(added(), [], 'nothing of either server remains after restart + SIGTERM');
});
