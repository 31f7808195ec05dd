/**
 * The cgroup v2 code path (and v1's counters) over temporary directories laid out like the real
 * hierarchies, so both are checked whatever this host runs: limits written where v2 wants them,
 * and counters read from each version's files. The files are fakes,
 * so this proves the logic only; the real-kernel behaviour is covered by the driver tests on v2 hosts.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Limits } from '../driver.ts';
import type { CgroupLayout } from './detect.ts';
import { SandboxCgroup, v2PidsLimitHits } from './sandbox-cgroup.ts';

const root = mkdtempSync(join(tmpdir(), 'airlock-cgv2-'));
after(() => rmSync(root, { recursive: true, force: true }));
const layout: CgroupLayout = { version: 2, mountPoint: root, controllers: ['cpu', 'memory', 'pids'] };
const LIMITS: Limits = { memoryMb: 64, cpuCores: 0.5, pids: 32, timeoutSeconds: 1, scratchMb: 8, outputBytes: 1024, openFiles: 64 };

test('v2: limits go to memory.max, cpu.max and pids.max of one directory', () => {
  const cg = SandboxCgroup.create(layout, 'parent', 'a', LIMITS);
  const dir = join(root, 'parent', 'a');
  assert.equal(readFileSync(join(dir, 'memory.max'), 'utf8'), String(64 * 1024 * 1024));
  assert.equal(readFileSync(join(dir, 'cpu.max'), 'utf8'), '50000 100000');
  assert.equal(readFileSync(join(dir, 'pids.max'), 'utf8'), '32');
  assert.match(readFileSync(join(root, 'parent', 'cgroup.subtree_control'), 'utf8'), /\+memory \+cpu \+pids/);
  assert.deepEqual(cg.uniqueDirs, [dir]);
});

test('v2: CPU is counted from the command start (usage_usec), not from the cgroup creation', () => {
  const cg = SandboxCgroup.create(layout, 'parent', 'b', LIMITS);
  const stat = join(root, 'parent', 'b', 'cpu.stat');
  writeFileSync(stat, 'usage_usec 150000\nuser_usec 100000\nsystem_usec 50000\n');
  assert.equal(cg.sample().cpuNanos, 150_000_000);
  // The runtime's start-up (150 ms) is done: the command is released now.
  cg.markCommandStart();
  writeFileSync(stat, 'usage_usec 175000\nuser_usec 120000\nsystem_usec 55000\n');
  assert.equal(cg.sample().cpuNanos, 25_000_000);
});

test('v2: pids hits from pids.events, or pids.events.local where the kernel counts them there', () => {
  const cg = SandboxCgroup.create(layout, 'parent', 'c', LIMITS);
  const dir = join(root, 'parent', 'c');
  assert.equal(cg.sample().pidsLimitHits, 0);
  writeFileSync(join(dir, 'pids.events'), 'max 4\n');
  assert.equal(cg.sample().pidsLimitHits, 4);
  writeFileSync(join(dir, 'pids.events'), 'max 0\n');
  writeFileSync(join(dir, 'pids.events.local'), 'max 2\n');
  assert.equal(cg.sample().pidsLimitHits, 2);
  assert.equal(v2PidsLimitHits('max 1\n', ''), 1);
  assert.equal(v2PidsLimitHits('', ''), 0);
});

test('v2: peak memory and OOM kills from memory.peak and memory.events', () => {
  const cg = SandboxCgroup.create(layout, 'parent', 'd', LIMITS);
  const dir = join(root, 'parent', 'd');
  writeFileSync(join(dir, 'memory.peak'), '1048576\n');
  writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\n');
  const s = cg.sample();
  assert.equal(s.memoryPeakBytes, 1048576);
  assert.equal(s.oomKills, 1);
});

test('v1: CPU from cpuacct.usage counted from the command start; pids hits from pids.events', () => {
  const v1root = mkdtempSync(join(tmpdir(), 'airlock-cgv1-'));
  try {
    const mounts = { memory: join(v1root, 'memory'), cpu: join(v1root, 'cpu'), cpuacct: join(v1root, 'cpuacct'), pids: join(v1root, 'pids') };
    const cg = SandboxCgroup.create({ version: 1, mounts, controllers: ['memory', 'cpu', 'cpuacct', 'pids'] }, 'parent', 'e', LIMITS);
    writeFileSync(join(mounts.cpuacct, 'parent', 'e', 'cpuacct.usage'), '200000000\n');
    cg.markCommandStart();
    writeFileSync(join(mounts.cpuacct, 'parent', 'e', 'cpuacct.usage'), '260000000\n');
    writeFileSync(join(mounts.pids, 'parent', 'e', 'pids.events'), 'max 3\n');
    const s = cg.sample();
    assert.equal(s.cpuNanos, 60_000_000);
    assert.equal(s.pidsLimitHits, 3);
    assert.equal(readFileSync(join(mounts.cpu, 'parent', 'e', 'cpu.cfs_quota_us'), 'utf8'), '50000');
  } finally {
    rmSync(v1root, { recursive: true, force: true });
  }
});
