import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../config/config.ts';
import { parseRunOptions, type RawRunOptions } from './run-options.ts';
import { createRequestOf, type RawCreateOptions } from './sandbox-options.ts';
import { UsageError } from './usage-error.ts';

const config = configSchema.parse({});
const run = (secret: string[]): RawRunOptions => ({ runtime: 'namespace', env: [], mount: [], workdir: '/tmp', network: 'none', allow: [], service: [], json: false, secret });
const create = (secret: string[]): RawCreateOptions => ({ metadata: [], env: [], secret });
const BAD: [string[], RegExp][] = [
  [['Upper'], /^--secret: "Upper" is not a secret name/],
  [['../x'], /is not a secret name/],
  [['x'.repeat(57)], /is not a secret name/],
  [['a_key', 'a_key'], /^--secret: a_key is named twice$/],
  [Array.from({ length: 33 }, (_, i) => `k${i}`), /^--secret: at most 32 secrets/],
];

test('--secret on run: names go into the plan (none: no field); bad ones are usage errors naming the option', () => {
  assert.deepEqual(parseRunOptions(run(['openai_key', 'db-pass']), ['true'], config, '/').secrets, ['openai_key', 'db-pass']);
  assert.equal(parseRunOptions(run([]), ['true'], config, '/').secrets, undefined);
  for (const [names, pattern] of BAD) {
    assert.throws(() => parseRunOptions(run(names), ['true'], config, '/'), (err: unknown) => err instanceof UsageError && pattern.test(err.message), names.join(','));
  }
});

test('--secret on sandbox create: names go into the request body; bad ones are usage errors', () => {
  assert.deepEqual(createRequestOf(create(['openai_key'])).secrets, ['openai_key']);
  assert.equal(createRequestOf(create([])).secrets, undefined);
  for (const [names, pattern] of BAD) {
    assert.throws(() => createRequestOf(create(names)), (err: unknown) => err instanceof UsageError && pattern.test(err.message), names.join(','));
  }
});
