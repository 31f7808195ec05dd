import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ResourceSample } from '../isolation/driver.ts';
import { terminationReason } from './termination.ts';

const CLEAN: ResourceSample = { cpuNanos: 0, memoryPeakBytes: 0, oomKills: 0, pidsLimitHits: 0, scratchFull: false };
const OK = { code: 0, signal: null };
const KILLED = { code: null, signal: 'SIGKILL' as const };

test('a pids hit followed by the timeout ends pids_limit (children that outlive the refusal)', () => {
  assert.equal(terminationReason('timeout', { ...CLEAN, pidsLimitHits: 3 }, KILLED), 'pids_limit');
  assert.equal(terminationReason('timeout', { ...CLEAN, oomKills: 1 }, KILLED), 'memory_limit');
  assert.equal(terminationReason('timeout', CLEAN, KILLED), 'timeout');
});

test("the runner's other stops keep their reason", () => {
  assert.equal(terminationReason('network_drift', { ...CLEAN, pidsLimitHits: 1 }, KILLED), 'network_drift');
  assert.equal(terminationReason('output_limit', { ...CLEAN, pidsLimitHits: 1 }, KILLED), 'output_limit');
  assert.equal(terminationReason('pids_limit', CLEAN, KILLED), 'pids_limit');
});

test('a sandbox that ended on its own: counted limits first, then scratch and descriptors on failure', () => {
  assert.equal(terminationReason(undefined, { ...CLEAN, pidsLimitHits: 1 }, OK), 'pids_limit');
  assert.equal(terminationReason(undefined, { ...CLEAN, scratchFull: true }, { code: 1, signal: null }), 'scratch_limit');
  assert.equal(terminationReason(undefined, { ...CLEAN, scratchFull: true }, OK), 'completed');
  assert.equal(terminationReason(undefined, { ...CLEAN, openFilesLimitHit: true }, { code: 1, signal: null }), 'open_files_limit');
  assert.equal(terminationReason(undefined, CLEAN, KILLED), 'killed');
  assert.equal(terminationReason(undefined, CLEAN, OK), 'completed');
});
