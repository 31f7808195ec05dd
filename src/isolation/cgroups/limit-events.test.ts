/**
 * Limit events over temporary directories laid out like each cgroup version (the logic, whatever
 * this host runs: v2's inotify on memory.events / pids.events, and the fallback to polling a
 * counter file when a source can't be armed), and on the real kernel: v1 OOM kills and pids-limit
 * hits through the helper (eventfd, /dev/kmsg), v2 ones through inotify on a v2 host.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LimitListener, Limits } from '../driver.ts';
import { detectCgroups, type CgroupLayout } from './detect.ts';
import { SandboxCgroup } from './sandbox-cgroup.ts';
import { CgroupLimitEvents, CounterFiles } from './limit-events.ts';
import { CgroupV1Events, ensureCgroupEventsHelper } from './v1-events.ts';

const root = mkdtempSync(join(tmpdir(), 'airlock-limit-events-'));
after(() => rmSync(root, { recursive: true, force: true }));
const LIMITS: Limits = { memoryMb: 32, cpuCores: 1, pids: 16, timeoutSeconds: 1, scratchMb: 8, outputBytes: 1024, openFiles: 64 };

function recorder(): LimitListener & { changes: number; failures: string[] } {
  const r = { changes: 0, failures: [] as string[], changed: () => void r.changes++, failed: (why: string) => void r.failures.push(why) };
  return r;
}

async function until(check: () => boolean, ms = 2000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await sleep(10);
  return check();
}

test('v2: a write to memory.events or pids.events is an event; nothing is polled', async () => {
  const layout: CgroupLayout = { version: 2, mountPoint: join(root, 'v2'), controllers: ['cpu', 'memory', 'pids'] };
  mkdirSync(layout.mountPoint);
  const cg = SandboxCgroup.create(layout, 'parent', 'a', LIMITS);
  const dir = join(layout.mountPoint, 'parent', 'a');
  writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n');
  writeFileSync(join(dir, 'pids.events'), 'max 0\n');
  const listener = recorder();
  const watch = await new CgroupLimitEvents().watch(cg, listener);
  assert.equal(watch.polled, undefined);
  writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n');
  assert.ok(await until(() => listener.changes >= 1), 'memory.events change not seen');
  const seen = listener.changes;
  writeFileSync(join(dir, 'pids.events'), 'max 1\n');
  assert.ok(await until(() => listener.changes > seen), 'pids.events change not seen');
  watch.close();
  const closed = listener.changes;
  writeFileSync(join(dir, 'pids.events'), 'max 2\n');
  await sleep(50);
  assert.equal(listener.changes, closed, 'an event after close');
  assert.deepEqual(listener.failures, []);
});

test('v2: a file that cannot be watched is polled instead, and says so', async () => {
  const layout: CgroupLayout = { version: 2, mountPoint: join(root, 'v2b'), controllers: ['cpu', 'memory', 'pids'] };
  mkdirSync(layout.mountPoint);
  const cg = SandboxCgroup.create(layout, 'parent', 'b', LIMITS);
  writeFileSync(join(layout.mountPoint, 'parent', 'b', 'pids.events'), 'max 0\n');
  // No memory.events: the memory controller is missing from this cgroup.
  const listener = recorder();
  const watch = await new CgroupLimitEvents().watch(cg, listener);
  assert.match(watch.polled ?? '', /inotify on .*memory\.events: .*ENOENT.*polled/);
  // An unreadable counter never reads as quiet: every poll asks for a sample.
  watch.poll();
  assert.equal(listener.changes, 1);
  watch.close();
});

test('v1 without its helper: both counters are polled (one read each, an event only when one changed)', async () => {
  const base = join(root, 'v1');
  const mounts = { memory: join(base, 'memory'), cpu: join(base, 'cpu'), cpuacct: join(base, 'cpuacct'), pids: join(base, 'pids') };
  const layout: CgroupLayout = { version: 1, mounts, controllers: ['memory', 'cpu', 'cpuacct', 'pids'] };
  const cg = SandboxCgroup.create(layout, 'parent', 'c', LIMITS);
  writeFileSync(join(mounts.pids, 'parent', 'c', 'pids.events'), 'max 0\n');
  writeFileSync(join(mounts.memory, 'parent', 'c', 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n');
  const listener = recorder();
  const watch = await new CgroupLimitEvents().watch(cg, listener);
  assert.equal(watch.polled, 'OOM and pids-limit hits: no cgroup v1 event helper, polled');
  watch.poll();
  assert.equal(listener.changes, 0, 'unchanged counters are no event');
  writeFileSync(join(mounts.pids, 'parent', 'c', 'pids.events'), 'max 1\n');
  watch.poll();
  assert.equal(listener.changes, 1);
  writeFileSync(join(mounts.memory, 'parent', 'c', 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n');
  watch.poll();
  assert.equal(listener.changes, 2);
  watch.close();
});

test('v1: a helper that cannot start falls back to polling, naming why', async () => {
  const base = join(root, 'v1b');
  const mounts = { memory: join(base, 'memory'), cpu: join(base, 'cpu'), cpuacct: join(base, 'cpuacct'), pids: join(base, 'pids') };
  const layout: CgroupLayout = { version: 1, mounts, controllers: ['memory', 'cpu', 'cpuacct', 'pids'] };
  const cg = SandboxCgroup.create(layout, 'parent', 'd', LIMITS);
  const broken = new CgroupV1Events(() => Promise.reject(new Error('gcc is needed to build the cgroup v1 event helper')));
  const watch = await new CgroupLimitEvents({ v1: broken }).watch(cg, recorder());
  assert.match(watch.polled ?? '', /^OOM and pids-limit hits: cgroups: cannot start the cgroup v1 event helper: gcc is needed.*polled$/);
  watch.close();
});

test('CounterFiles re-reads a held descriptor (pread at 0): same text, no change', () => {
  const file = join(root, 'counter');
  writeFileSync(file, 'max 0\n');
  const files = new CounterFiles([file]);
  assert.equal(files.changed(), false);
  writeFileSync(file, 'max 7\n');
  assert.equal(files.changed(), true);
  assert.equal(files.changed(), false);
  files.close();
});

const host = detectCgroups();
const isRoot = process.getuid?.() === 0;

test('v1 kernel: an OOM kill and a pids-limit hit are events (eventfd, /dev/kmsg), nothing polled', { skip: host.version !== 1 ? 'cgroup v2 host: v1 events do not apply' : !isRoot ? 'needs root to create cgroups' : false }, async (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'airlock-cgroup-events-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const parent = `airlock-limit-events-${process.pid}`;
  const cg = SandboxCgroup.create(host, parent, 'oom', LIMITS);
  const v1 = new CgroupV1Events(() => ensureCgroupEventsHelper({ stateDir }));
  const listener = recorder();
  const watch = await new CgroupLimitEvents({ v1 }).watch(cg, listener);
  t.after(async () => {
    watch.close();
    await cg.remove();
    spawnSync('rmdir', Object.values(host.version === 1 ? host.mounts : {}).map((m) => `${m}/${parent}`));
  });
  assert.equal(watch.polled, undefined, 'both limits are evented');
  const quiet = listener.changes;
  // A 64 MiB allocation in a 32 MiB cgroup: the kernel's OOM killer acts inside it.
  const procs = `${cg.dirs.memory}/cgroup.procs`;
  spawnSync('/bin/sh', ['-c', `echo $$ > ${procs} && echo $$ > ${cg.dirs.pids}/cgroup.procs && exec python3 -c 'b = bytearray(64 << 20)'`]);
  assert.ok(await until(() => listener.changes > quiet), 'no event for the OOM kill');
  assert.ok(cg.sample().oomKills >= 1, 'the kernel counted the kill');
  const afterOom = listener.changes;
  // 40 sleepers in a cgroup allowing 16 tasks: forks are refused.
  spawnSync('/bin/sh', ['-c', `echo $$ > ${procs} && echo $$ > ${cg.dirs.pids}/cgroup.procs && for i in $(seq 40); do sleep 1 & done; wait`]);
  assert.ok(await until(() => listener.changes > afterOom), 'no event for the pids-limit hit');
  assert.ok(cg.sample().pidsLimitHits >= 1, 'the kernel counted the refusal');
  assert.deepEqual(listener.failures, []);
  assert.equal(helperChildren().length, 1, 'one helper while a cgroup is watched');
  watch.close();
  // No sandbox left: the helper goes too (after a short linger for consecutive one-shots).
  assert.ok(await until(() => helperChildren().length === 0, 5000), 'the helper outlived its last watch');
});

/** This process's children that are the v1 event helper. */
function helperChildren(): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.includes('(airlock-cgroup-') && Number(stat.replace(/^.*\) /, '').split(' ')[1]) === process.pid;
    } catch {
      return false;
    }
  });
}

test('v2 kernel: an OOM kill and a pids-limit hit are events (inotify)', { skip: host.version !== 2 ? 'cgroup v1 host: covered by the guest-VM suite on v2' : !isRoot ? 'needs root to create cgroups' : false }, async (t) => {
  const parent = `airlock-limit-events-${process.pid}`;
  const cg = SandboxCgroup.create(host, parent, 'v2', LIMITS);
  const listener = recorder();
  const watch = await new CgroupLimitEvents().watch(cg, listener);
  t.after(async () => {
    watch.close();
    await cg.remove();
    if (host.version === 2) spawnSync('rmdir', [`${host.mountPoint}/${parent}`]);
  });
  assert.equal(watch.polled, undefined);
  const procs = `${cg.dirs.memory}/cgroup.procs`;
  spawnSync('/bin/sh', ['-c', `echo $$ > ${procs} && exec python3 -c 'b = bytearray(64 << 20)'`]);
  assert.ok(await until(() => listener.changes > 0), 'no event for the OOM kill');
  assert.ok(cg.sample().oomKills >= 1);
  const afterOom = listener.changes;
  spawnSync('/bin/sh', ['-c', `echo $$ > ${procs} && for i in $(seq 40); do sleep 1 & done; wait`]);
  assert.ok(await until(() => listener.changes > afterOom), 'no event for the pids-limit hit');
  assert.ok(cg.sample().pidsLimitHits >= 1);
});
