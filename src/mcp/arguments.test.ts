import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ArgumentValidator, depthOf } from './arguments.ts';
import { McpRefusal } from './refusal.ts';

const schema = { type: 'object', properties: { path: { type: 'string' }, n: { type: 'integer', minimum: 1 } }, required: ['path'], additionalProperties: false };

function refusal(fn: () => unknown): McpRefusal {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof McpRefusal);
    return err;
  }
  assert.fail('expected a refusal');
}

describe('depthOf', () => {
  test('counts nesting without recursion and stops past the limit', () => {
    assert.equal(depthOf({}, 10), 1);
    assert.equal(depthOf({ a: [1, { b: 2 }] }, 10), 3);
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.equal(depthOf(deep, 32), 33);
  });
});

describe('ArgumentValidator', () => {
  const v = new ArgumentValidator({ bytes: 1024, depth: 4 });

  test('accepts arguments that match the pinned schema; absent arguments are {}', () => {
    assert.deepEqual(v.check({ path: 'a', n: 2 }, schema, 'sha256:1'), { path: 'a', n: 2 });
    assert.deepEqual(v.check(undefined, { type: 'object' }, 'sha256:2'), {});
  });

  test('refuses a schema violation naming where', () => {
    const r = refusal(() => v.check({ path: 1 }, schema, 'sha256:1'));
    assert.equal(r.refusal, 'invalid_arguments');
    assert.match(r.message, /arguments\/path must be string/);
    assert.equal(refusal(() => v.check({ path: 'a', extra: 1 }, schema, 'sha256:1')).refusal, 'invalid_arguments');
    assert.equal(refusal(() => v.check([1], schema, 'sha256:1')).refusal, 'invalid_arguments');
  });

  test('refuses oversized and too deeply nested arguments before validating', () => {
    assert.equal(refusal(() => v.check({ path: 'x'.repeat(2000) }, schema, 'sha256:1')).refusal, 'arguments_too_large');
    assert.equal(refusal(() => v.check({ path: 'a', d: { e: { f: { g: { h: 1 } } } } }, { type: 'object' }, 'sha256:3')).refusal, 'arguments_too_large');
  });

  test('a 2020-12 schema is compiled as one; a schema that does not compile refuses every call', () => {
    // prefixItems exists only in 2020-12: read as draft-07 it would be ignored and [1] would pass.
    const s2020 = { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { a: { type: 'array', prefixItems: [{ type: 'string' }] } } };
    assert.deepEqual(v.check({ a: ['x'] }, s2020, 'sha256:4'), { a: ['x'] });
    assert.equal(refusal(() => v.check({ a: [1] }, s2020, 'sha256:4')).refusal, 'invalid_arguments');
    const broken = { type: 'object', properties: { a: { type: 'no-such-type' } } };
    assert.match(refusal(() => v.check({ a: 1 }, broken, 'sha256:5')).message, /does not compile/);
  });

  test('two schemas with the same $id do not collide', () => {
    assert.deepEqual(v.check({ a: 'x' }, { $id: 'urn:x', type: 'object', properties: { a: { type: 'string' } } }, 'sha256:6'), { a: 'x' });
    assert.equal(refusal(() => v.check({ a: 'x' }, { $id: 'urn:x', type: 'object', properties: { a: { type: 'number' } } }, 'sha256:7')).refusal, 'invalid_arguments');
  });
});
