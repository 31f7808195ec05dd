import { test } from 'node:test';
import assert from 'node:assert/strict';
import { averageCores } from './cpu-usage.ts';

test('average cores is CPU time over wall time', () => {
  assert.equal(averageCores(250e6, 1, 2, 8), 0.25);
  assert.equal(averageCores(3e9, 2, 4, 8), 1.5);
});

test('never above the CPU limit or the host cores (a run shorter than one CFS period may burst)', () => {
  // `--cpu 0.5 -- true`: 3 ms of CPU in a 2 ms run.
  assert.equal(averageCores(3e6, 0.002, 0.5, 2), 0.5);
  assert.equal(averageCores(30e9, 1, 8, 2), 2);
});

test('nothing measured, or no time, is zero cores', () => {
  assert.equal(averageCores(0, 1, 1, 2), 0);
  assert.equal(averageCores(1e9, 0, 1, 2), 0);
  assert.equal(averageCores(Number.NaN, 1, 1, 2), 0);
});
