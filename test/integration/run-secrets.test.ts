/**
 * `airlock run --secret NAME` on a real sandbox: the secret comes from the controller's store as
 * /run/secrets/NAME, its value never reaches the terminal (streamed or --json), and an unknown or
 * malformed name is refused (exit 2) before anything runs. The caller is root, an operator, whom
 * the default policy gives any secret.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, type CliRun } from '../../src/cli/test-cli.ts';
import { FileSecretStore } from '../../src/secrets/index.ts';
import { isolatedConfig, writeConfigFile } from '../security/lib/isolated-config.ts';
import { removeIsolatedState } from '../security/lib/runtime.ts';
import { skipReason } from './environment.ts';

const config = isolatedConfig();
const skip = skipReason(config)('namespace');
const VALUE = `sk-run-${process.pid}-0123456789abcdef`;

function run(args: string[]): Promise<CliRun> {
  return runCli(['run', ...args], { config: writeConfigFile(config), timeoutMs: 60_000 });
}

describe('airlock run --secret', { skip }, () => {
  before(() => new FileSecretStore(join(config.stateDir, 'secrets')).set('api_key', Buffer.from(VALUE)));
  after(() => {
    assert.deepEqual(removeIsolatedState(config), []);
  });

  it('the file is there and its value is redacted from streamed and --json output', async () => {
    const streamed = await run(['--secret', 'api_key', '--', 'sh', '-c', 'stat -c "%a %u" /run/secrets/api_key; cat /run/secrets/api_key; echo; cat /run/secrets/api_key >&2']);
    assert.equal(streamed.code, 0, streamed.stderr);
    assert.equal(streamed.stdout, '400 65534\n[REDACTED:api_key]\n');
    assert.equal(streamed.stderr, '[REDACTED:api_key]');
    const json = await run(['--json', '--secret', 'api_key', '--', 'sh', '-c', 'env; cat /run/secrets/api_key | base64']);
    assert.equal(json.code, 0, json.stderr);
    const result = JSON.parse(json.stdout) as { output: string };
    assert.match(result.output, /\[REDACTED:api_key\]/);
    for (const out of [streamed.stdout, streamed.stderr, json.stdout, json.stderr]) {
      assert.ok(!out.includes(VALUE) && !out.includes(Buffer.from(VALUE).toString('base64').slice(0, 20)), out);
    }
  });

  it('an unknown or malformed secret is refused (exit 2) and nothing runs', async () => {
    const unknown = await run(['--secret', 'no_such_key', '--', 'echo', 'ran']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--secret: no secret named no_such_key/);
    assert.equal(unknown.stdout, '');
    for (const bad of ['Bad', '../x', 'a,b']) {
      const refused = await run(['--secret', bad, '--', 'echo', 'ran']);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, /--secret: .* is not a secret name/);
      assert.equal(refused.stdout, '');
    }
    const twice = await run(['--secret', 'api_key', '--secret', 'api_key', '--', 'echo', 'ran']);
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /named twice/);
  });
});
