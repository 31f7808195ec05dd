import assert from 'node:assert/strict';
import { it } from 'node:test';
import { pathPatternOf } from './patterns.ts';
import { MORE_PATHS, ProbeTally } from './probe-tally.ts';
import { openDenials } from './run-denials.ts';
import type { DenialWatch } from './watch.ts';
import { DenialTally } from './tally.ts';

it('maps watched-path patterns to severities; an unknown one is MEDIUM', () => {
  assert.equal(pathPatternOf('kernel_tunable_write').severity, 'CRITICAL');
  assert.equal(pathPatternOf('sysfs_write').severity, 'HIGH');
  assert.equal(pathPatternOf('runtime_socket_probe').severity, 'HIGH');
  assert.equal(pathPatternOf('constructor').severity, 'MEDIUM');
});

it('a probe tally counts every probe, one FILESYSTEM violation per (pattern, path), bounded', () => {
  const tally = new ProbeTally();
  for (let i = 0; i < 500; i++) tally.add({ pattern: 'kernel_tunable_write', pid: 10 + i, syscall: 'openat', path: '/proc/sys/kernel/core_pattern' });
  for (let i = 0; i < 100; i++) tally.add({ pattern: 'sysfs_write', pid: 5, syscall: 'open', path: `/sys/x${i}` });
  assert.equal(tally.total, 600);
  const v = tally.violations();
  const core = v.find((x) => x.indicators['path'] === '/proc/sys/kernel/core_pattern');
  assert.equal(core?.indicators['count'], 500);
  assert.equal(core?.severity, 'CRITICAL');
  assert.equal(core?.detection_layer, 'FILESYSTEM');
  assert.equal((core?.indicators['processes'] as unknown[]).length, 8);
  assert.ok(v.length <= 65, 'distinct paths are bounded');
  const counted = v.filter((x) => x.indicators['pattern'] === 'sysfs_write').reduce((n, x) => n + (x.indicators['count'] as number), 0);
  assert.equal(counted, 100, 'paths beyond the bound are still counted');
  assert.ok(v.some((x) => x.indicators['path'] === MORE_PATHS));
});

it('denials and probes of one sandbox share one response; its words name the path', async () => {
  const tally = new DenialTally();
  const watch = { allocateAuid: () => 7, register: () => tally, unregister: () => undefined, sync: async () => undefined } as unknown as DenialWatch;
  const responses: string[] = [];
  const { run, spec } = openDenials({ watch }, 'namespace', 's-1', { onResponse: (r, what) => responses.push(`${r}: ${what}`) });
  assert.equal(spec.denialAuid, 7);
  spec.onPathProbe?.({ pattern: 'kernel_tunable_write', pid: 3, syscall: 'openat', path: '/proc/sys/kernel/core_pattern' });
  spec.onPathProbe?.({ pattern: 'kernel_tunable_write', pid: 3, syscall: 'openat', path: '/proc/sys/kernel/core_pattern' });
  assert.deepEqual(responses, ['kill: write to /proc/sys/kernel/core_pattern (kernel_tunable_write)']);
  const listed = await run.collect();
  assert.equal(listed.find((v) => v.indicators['pattern'] === 'kernel_tunable_write')?.indicators['count'], 2);
  const off = openDenials({ watch, watchWrites: false }, 'namespace', 's-2', {});
  assert.equal(off.spec.onPathProbe, undefined, 'violations.watchWrites: false turns the watcher off');
  assert.equal(openDenials({ watch }, 'gvisor', 's-3', {}).spec.onPathProbe, undefined, 'gVisor: no user notification');
});

it('an unseen write is described without a path', () => {
  const tally = new ProbeTally();
  tally.add({ pattern: 'write_unseen', pid: 4, syscall: 'openat', path: '-' });
  assert.equal(tally.violations()[0]?.description, 'openat by a process that hid its memory from the write watcher (non-dumpable) 1 time');
});
