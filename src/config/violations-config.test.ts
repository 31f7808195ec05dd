/** The `violations` configuration: defaults, a partial response table, and the CRITICAL floor. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { DEFAULT_VIOLATIONS_CONFIG, violationsSchema } from './violations-config.ts';
import { responseFor } from '../sandbox/denials/response.ts';

test('violations config: defaults, a partial table filled from them, bad values refused', () => {
  const schema = violationsSchema(z);
  assert.deepEqual(schema.parse(undefined), DEFAULT_VIOLATIONS_CONFIG);
  const partial = schema.parse({ response: { HIGH: 'kill', CRITICAL: 'kill_and_revoke' } });
  assert.deepEqual(partial.response, { LOW: 'record', MEDIUM: 'record', HIGH: 'kill', CRITICAL: 'kill_and_revoke' });
  assert.equal(responseFor('HIGH', partial.response), 'kill');
  for (const bad of [{ response: { CRITICAL: 'record' } }, { response: { HIGH: 'ignore' } }, { response: { high: 'kill' } }, { other: 1 }]) {
    const parsed = schema.safeParse(bad);
    assert.equal(parsed.success, false, JSON.stringify(bad));
  }
  const floor = schema.safeParse({ response: { CRITICAL: 'record' } });
  assert.match(floor.success ? '' : floor.error.issues[0]?.message ?? '', /CRITICAL/);
});

test('violations config: the write watcher is on by default and can be turned off', () => {
  const schema = violationsSchema(z);
  assert.equal(schema.parse(undefined).watchWrites, true);
  assert.equal(schema.parse({}).watchWrites, true);
  assert.equal(schema.parse({ watchWrites: false }).watchWrites, false);
  assert.equal(schema.safeParse({ watchWrites: 'no' }).success, false);
});
