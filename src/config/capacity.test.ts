import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeCapacity, hostSandboxCapacity, MEMORY_OVERCOMMIT, MEMORY_SHARE, SANDBOXES_PER_CORE } from './capacity.ts';
import { DEFAULT_CONFIG, parseConfig } from './config.ts';

const GiB = 2 ** 30;

test('the cap is the smaller of the memory and the CPU bound', () => {
  // 16 GiB, 512 MiB limits: 16 × 0.75 × 2 / 0.5 = 48 by memory; 8 cores × 32 = 256 by CPU.
  assert.deepEqual(hostSandboxCapacity(512, { memoryBytes: 16 * GiB, cores: 8 }), { memoryBytes: 16 * GiB, cores: 8, max: 48, byMemory: 48, byCpu: 256 });
  // 256 GiB on 4 cores: the CPU bound wins.
  assert.equal(hostSandboxCapacity(512, { memoryBytes: 256 * GiB, cores: 4 }).max, 4 * SANDBOXES_PER_CORE);
  // Smaller default limits admit more sandboxes on the same memory.
  assert.equal(hostSandboxCapacity(256, { memoryBytes: 16 * GiB, cores: 8 }).byMemory, 96);
  assert.equal(MEMORY_SHARE * MEMORY_OVERCOMMIT, 1.5);
});

test('a host too small for one default sandbox still gets a cap of 1', () => {
  assert.equal(hostSandboxCapacity(2048, { memoryBytes: 512 * 2 ** 20, cores: 1 }).max, 1);
});

test('the configuration derives the cap from its own default memory limit unless it sets one', () => {
  const derived = parseConfig({ defaults: { ...DEFAULT_CONFIG.defaults, memoryMb: 128 } });
  assert.equal(derived.service.maxSandboxes, hostSandboxCapacity(128).max);
  assert.equal(parseConfig({}).service.maxSandboxes, hostSandboxCapacity(DEFAULT_CONFIG.defaults.memoryMb).max);
  assert.equal(DEFAULT_CONFIG.service.maxSandboxes, hostSandboxCapacity(DEFAULT_CONFIG.defaults.memoryMb).max);
  assert.equal(parseConfig({ service: { maxSandboxes: 7 } }).service.maxSandboxes, 7);
  assert.throws(() => parseConfig({ service: { maxSandboxes: 0 } }), /service\.maxSandboxes/);
});

test('doctor says whether the cap is derived or set, and how the host would derive it', () => {
  const host = hostSandboxCapacity(512, { memoryBytes: 16 * GiB, cores: 8 });
  assert.equal(describeCapacity(48, host), 'maxSandboxes 48, derived from this host (memory 16.0 GiB → 48, 8 cores → 256; the smaller wins)');
  assert.equal(describeCapacity(500, host), "maxSandboxes 500, set in the configuration (this host's derived default would be 48: memory 16.0 GiB → 48, 8 cores → 256)");
});
