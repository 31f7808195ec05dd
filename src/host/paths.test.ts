import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAtOrUnder } from './paths.ts';

test('isAtOrUnder compares whole components, and / holds every absolute path', () => {
  assert.equal(isAtOrUnder('/tmp', '/tmp'), true);
  assert.equal(isAtOrUnder('/tmp/a/b', '/tmp'), true);
  assert.equal(isAtOrUnder('/tmpfoo', '/tmp'), false);
  assert.equal(isAtOrUnder('/', '/tmp'), false);
  assert.equal(isAtOrUnder('/etc', '/'), true);
  assert.equal(isAtOrUnder('/', '/'), true);
});
