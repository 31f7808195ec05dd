/**
 * `POST /api/v1/sandbox/execute` takes everything `airlock run` does: image, pids and scratch
 * limits, working directory, language, and a command as argv or as a shell string (`sh -c`). Each
 * field is checked by the same rule as the CLI option (limits: src/sandbox/limits.ts) and refused
 * with the same codes as the seed's fields.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRunOptions, type RawRunOptions } from '../../src/cli/run-options.ts';
import { UsageError } from '../../src/cli/usage-error.ts';
import { DEFAULT_CONFIG } from '../../src/config/config.ts';
import { ServiceError } from '../../src/sandbox/errors.ts';
import { assertError, json, makeApp } from './helpers.ts';

const URL = '/api/v1/sandbox/execute';
const RAW: RawRunOptions = { runtime: 'namespace', env: [], mount: [], workdir: '/tmp', network: 'none', allow: [], service: [], json: false };

/** The CLI's refusal of a run option, without its `--option: ` prefix. */
function cliRefusal(raw: Partial<RawRunOptions>): string {
  try {
    parseRunOptions({ ...RAW, ...raw }, ['true'], DEFAULT_CONFIG, '/');
  } catch (err) {
    assert.ok(err instanceof UsageError, String(err));
    return err.message.replace(/^--[a-z]+: /, '');
  }
  assert.fail('the CLI accepted it');
}

describe('POST /api/v1/sandbox/execute takes the options of airlock run', () => {
  it('maps image, pids_limit, scratch_mb and workdir onto the one-shot', async () => {
    const { app, service } = await makeApp();
    const res = await app.inject(json('POST', URL, {
      agent_id: 'a', command: ['ls'], image: 'default', pids_limit: 64, scratch_mb: 128, workdir: '/usr/share/', memory_limit_mb: 256, timeout_seconds: 5,
    }));
    assert.equal(res.statusCode, 200, res.body);
    const sent = service.executed[0];
    assert.equal(sent?.image, 'default');
    assert.deepEqual(sent?.limits, { memoryMb: 256, pids: 64, scratchMb: 128, timeoutSeconds: 5 });
    assert.equal(sent?.workdir, '/usr/share', 'trailing slashes dropped, as for every path');
    // Absent fields stay absent: the service fills its configured defaults (image, /tmp).
    assert.equal((await app.inject(json('POST', URL, { agent_id: 'a', command: ['ls'] }))).statusCode, 200);
    assert.equal(service.executed[1]?.image, undefined);
    assert.equal(service.executed[1]?.workdir, undefined);
    assert.deepEqual(service.executed[1]?.limits, {});
  });

  it('a string command runs as sh -c STRING; an argv array runs as given', async () => {
    const { app, service } = await makeApp();
    assert.equal((await app.inject(json('POST', URL, { agent_id: 'a', command: 'echo "$HOME" | tr a-z A-Z; exit 3' }))).statusCode, 200);
    assert.deepEqual(service.executed[0]?.command, ['sh', '-c', 'echo "$HOME" | tr a-z A-Z; exit 3']);
    assert.equal(service.executed[0]?.code, undefined);
    assert.equal((await app.inject(json('POST', URL, { agent_id: 'a', command: ['echo', 'a; b'] }))).statusCode, 200);
    assert.deepEqual(service.executed[1]?.command, ['echo', 'a; b']);
    assert.equal((await app.inject(json('POST', URL, { agent_id: 'a', code: 'console.log(1)', language: 'javascript' }))).statusCode, 200);
    assert.equal(service.executed[2]?.language, 'javascript');
  });

  it('refuses bad commands, naming the field, before anything runs', async () => {
    const { app, service } = await makeApp();
    for (const command of ['', 'a\0b', 42, [], ['x', 7], { argv: ['ls'] }]) {
      const err = assertError(await app.inject(json('POST', URL, { agent_id: 'a', command })), 400, 'invalid_request');
      assert.ok(err.details?.some((d) => d.path.startsWith('body.command')), JSON.stringify(err));
    }
    const withLanguage = assertError(await app.inject(json('POST', URL, { agent_id: 'a', command: 'ls', language: 'bash' })), 400, 'invalid_request');
    assert.match(withLanguage.message, /body\.language: applies to code, not to command/);
    assertError(await app.inject(json('POST', URL, { agent_id: 'a', command: 'ls', code: '1' })), 400, 'invalid_request');
    assert.equal(service.executed.length, 0);
  });

  it('pids_limit and scratch_mb are checked by the same rule as --pids and --scratch (refused, never clamped)', async () => {
    const { app, service } = await makeApp();
    for (const [field, option, value] of [['pids_limit', 'pids', 5000], ['scratch_mb', 'scratch', 4096]] as const) {
      const err = assertError(await app.inject(json('POST', URL, { agent_id: 'a', command: ['true'], [field]: value })), 400, 'invalid_request');
      assert.equal(err.message, `body.${field}: ${cliRefusal({ [option]: String(value) })}`);
      assert.match(err.message, /exceeds the maximum of \d+/);
    }
    // Shapes the schema refuses on its own, every problem listed.
    const shapes = assertError(await app.inject(json('POST', URL, { agent_id: 'a', command: ['true'], pids_limit: 1.5, scratch_mb: 0 })), 400, 'invalid_request');
    assert.deepEqual(shapes.details?.map((d) => d.path).sort(), ['body.pids_limit', 'body.scratch_mb']);
    assert.equal(service.executed.length, 0);
  });

  it('stdin goes to the command (utf8 or canonical base64); with code, or an encoding without stdin, it is refused', async () => {
    const { app, service } = await makeApp();
    assert.equal((await app.inject(json('POST', URL, { agent_id: 'a', command: 'wc -c', stdin: 'héllo' }))).statusCode, 200);
    assert.deepEqual(service.executed[0]?.stdin, Buffer.from('héllo'));
    assert.equal((await app.inject(json('POST', URL, { agent_id: 'a', command: ['cat'], stdin: Buffer.from([0, 255, 10]).toString('base64'), stdin_encoding: 'base64' }))).statusCode, 200);
    assert.deepEqual(service.executed[1]?.stdin, Buffer.from([0, 255, 10]));
    assert.equal(service.executed.length, 2);
    const withCode = assertError(await app.inject(json('POST', URL, { agent_id: 'a', code: 'print(input())', stdin: 'x' })), 400, 'invalid_request');
    assert.match(withCode.message, /body\.stdin: code is fed to its interpreter on stdin/);
    const encodingOnly = assertError(await app.inject(json('POST', URL, { agent_id: 'a', command: ['cat'], stdin_encoding: 'base64' })), 400, 'invalid_request');
    assert.match(encodingOnly.message, /body\.stdin_encoding: given without stdin/);
    assertError(await app.inject(json('POST', URL, { agent_id: 'a', command: ['cat'], stdin: 'not base64!', stdin_encoding: 'base64' })), 400, 'invalid_request');
    assert.equal(service.executed.length, 2);
  });

  it('refuses a bad workdir or image, naming the field', async () => {
    const { app, service } = await makeApp();
    for (const workdir of ['tmp', '/tmp/../etc', '/a\0b', '']) {
      const err = assertError(await app.inject(json('POST', URL, { agent_id: 'a', command: ['true'], workdir })), 400);
      assert.match(err.message, /body\.workdir/);
    }
    for (const image of ['../etc', 'a b', 'sha256:xyz', '']) {
      const err = assertError(await app.inject(json('POST', URL, { agent_id: 'a', command: ['true'], image })), 400, 'invalid_request');
      assert.match(err.message, /body\.image: invalid image name/);
    }
    assert.equal(service.executed.length, 0);
  });

  it('a workdir the image cannot have is a 403 workdir_refused (found after admission), and nothing stays listed', async () => {
    const { app, service } = await makeApp();
    service.executeRefusal = new ServiceError('workdir_refused', 'workdir: /nope does not exist in the image');
    const res = await app.inject(json('POST', URL, { agent_id: 'a', command: ['true'], workdir: '/nope' }));
    assertError(res, 403, 'workdir_refused');
    assert.deepEqual(service.status().active_sandboxes, []);
  });
});
