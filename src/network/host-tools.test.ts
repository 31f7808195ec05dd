import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runTool, ToolTimeoutError } from './host-tools.ts';

test('a tool that runs past its limit is killed and the error says it timed out, and after how long', async () => {
  const started = Date.now();
  await assert.rejects(runTool('/bin/sleep', ['10'], { timeoutMs: 200 }), (err: unknown) => {
    assert.ok(err instanceof ToolTimeoutError);
    assert.equal(err.message, '/bin/sleep 10: timed out after 0.2 s (killed)');
    return true;
  });
  assert.ok(Date.now() - started < 5000);
});

test('a tool killed by someone else is not reported as a timeout', async () => {
  await assert.rejects(runTool('/bin/sh', ['-c', 'kill -9 $$']), /\/bin\/sh -c kill -9 \$\$: exit SIGKILL/);
});

test('aborting kills the tool and says so', async () => {
  const abort = new AbortController();
  const run = runTool('/bin/sleep', ['10'], { signal: abort.signal });
  abort.abort();
  await assert.rejects(run, /\/bin\/sleep 10: aborted/);
});
