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
import { after } from 'node:test';
import { findLeftovers } from '../../src/isolation/leftovers.ts';
import { skipReason } from './environment.ts';
import { networkPieces } from './network-pieces.ts';
import { isolatedConfig, removeIsolatedState, writeConfigFile } from '../security/lib/runtime.ts';
import { withUnsignedLoopbackOperator } from '../security/lib/isolated-config.ts';
import { stretched } from '../security/lib/emulation.ts';

// Both servers run on this file's own configuration (state dir, run dir, cgroups, uids, network
// space): the second one reaps what the first left, and nothing of a live deployment.
const config = isolatedConfig();
const configFile = writeConfigFile(withUnsignedLoopbackOperator(config));
const reason = skipReason(config)('namespace');
const gvisorReason = skipReason(config)('gvisor');
/** Every server started here: a failed assertion must not leave one running (the file would never end). */
const servers: ChildProcess[] = [];
after(async () => {
  for (const child of servers.filter((c) => c.exitCode === null && c.signalCode === null)) {
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('close', resolve));
  }
  const problems = removeIsolatedState(config);
  if (problems.length > 0) process.stderr.write(`server crash test cleanup: ${problems.join('; ')}\n`);
});

interface Server {
  child: ChildProcess;
  url: string;
  log: () => string;
}

async function startServer(): Promise<Server> {
  const child = spawn(process.execPath, ['bin/airlock.js', 'serve', '--port', '0', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  servers.push(child);
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  // 15 s for the server to start (longer on an emulated host).
  for (let i = 0; i < stretched(300); i++) {
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

/** Resolves once `count` one-shots are listed as running, and a moment more for their runtimes to be up. */
async function oneShotsRunning(url: string, count: number): Promise<void> {
  for (let i = 0; i < stretched(200); i++) {
    const status = (await (await fetch(`${url}/api/v1/sandbox/status`)).json()) as { active_sandboxes: { kind: string }[] };
    if (status.active_sandboxes.filter((s) => s.kind === 'execution').length >= count) {
      await sleep(stretched(1_000));
      return;
    }
    await sleep(50);
  }
  assert.fail(`${count} one-shots did not start`);
}

/** Starts `sleep 300` in a sandbox; resolves once the command has printed that it runs. */
async function execStarted(url: string, id: string): Promise<void> {
  const res = await fetch(`${url}/api/v1/sandboxes/${id}/exec`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ command: ['sh', '-c', 'echo started; exec sleep 300'] }),
  });
  assert.ok(res.ok && res.body !== null, `exec in ${id}: ${res.status}`);
  const reader = res.body.getReader();
  let text = '';
  while (!text.includes('started') && !text.includes(Buffer.from('started').toString('base64').slice(0, 8))) {
    const { value, done } = await reader.read();
    assert.ok(!done, `exec in ${id} ended before it started: ${text}`);
    text += Buffer.from(value).toString('utf8');
  }
  // The stream stays open (the command runs until the server is killed); its end is ignored.
  void reader.closed.catch(() => undefined);
}

test('kill -9 with running sandboxes, restart: the new server reaps every leftover', { skip: reason, timeout: stretched(120_000) }, async () => {
  // Compared against what was there before, so an unrelated earlier leftover can't mask or fake a result.
  const before = new Set([...findLeftovers(config), ...networkPieces(config)]);
  const added = () => [...findLeftovers(config), ...networkPieces(config)].filter((x) => !before.has(x));
  const first = await startServer();
  const runtimes = gvisorReason === false ? ['namespace', 'gvisor'] : ['namespace'];
  const running: Promise<void>[] = [];
  for (const runtime of runtimes) {
    const info = await post(`${first.url}/api/v1/sandboxes`, { runtime });
    // A running command inside, so there are live processes to reap; it says when it runs.
    running.push(execStarted(first.url, String(info['sandbox_id'])));
  }
  // A restricted sandbox too: its namespace, link, table and proxy must be reaped as well (the
  // server's pool of ready namespaces is left behind by the crash just the same).
  await post(`${first.url}/api/v1/sandboxes`, { runtime: 'namespace', network_policy: 'restricted', allowed_hosts: ['example.com'] });
  // A one-shot on each runtime as well: unlike a persistent sandbox's agent, it reads no stdin
  // from the server, so only the parent-death control can end it when the server dies.
  for (const runtime of runtimes) void fetch(`${first.url}/api/v1/sandbox/execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ agent_id: 'crash-test', runtime, command: ['sleep', '300'] }) }).catch(() => undefined);
  await Promise.all(running);
  await oneShotsRunning(first.url, runtimes.length);
  assert.ok(added().length > 0, 'sandboxes are running');
  assert.ok(added().some((x) => x.startsWith('named netns ')), 'the restricted sandbox has its namespace');
  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('close', resolve));
  // Every sandbox process dies with its controller (bwrap's --die-with-parent; runsc under the
  // launch step's parent-death signal), before any new server reaps: nothing runs unsupervised.
  const survivors = () => added().filter((x) => x.startsWith('process ') || x.startsWith('runsc process '));
  for (let i = 0; i < 50 && survivors().length > 0; i++) await sleep(100);
  assert.deepEqual(survivors(), [], 'no sandbox process outlives its controller');
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
