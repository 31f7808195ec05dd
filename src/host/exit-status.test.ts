import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exitCodeOfSignal, signalName, signalOfExitCode } from './exit-status.ts';

test('128+N names signal N; ordinary codes and out-of-range values are not signals', () => {
  assert.equal(signalOfExitCode(137), 'SIGKILL');
  assert.equal(signalOfExitCode(159), 'SIGSYS');
  assert.equal(signalOfExitCode(143), 'SIGTERM');
  assert.equal(signalOfExitCode(128), null);
  assert.equal(signalOfExitCode(0), null);
  assert.equal(signalOfExitCode(3), null);
  assert.equal(signalOfExitCode(255), null);
  assert.equal(signalOfExitCode(null), null);
  assert.equal(signalName(9), 'SIGKILL');
  assert.equal(signalName(999), null);
  assert.equal(exitCodeOfSignal('SIGKILL'), 137);
  assert.equal(signalOfExitCode(exitCodeOfSignal('SIGSYS')), 'SIGSYS');
});
