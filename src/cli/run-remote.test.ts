import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { remoteRunRequestOf, runsThroughServer } from './run-remote.ts';
import type { RawRunOptions } from './run-options.ts';
import { UsageError } from './usage-error.ts';

const raw = (over: Partial<RawRunOptions> = {}): RawRunOptions => ({ runtime: 'namespace', env: [], mount: [], workdir: '/tmp', network: 'none', allow: [], service: [], json: false, ...over });
const usage = (pattern: RegExp) => (err: unknown) => err instanceof UsageError && pattern.test(err.message);

describe('airlock run through a server', () => {
  it('goes through a server only when one is named, never because a default socket exists', () => {
    assert.equal(runsThroughServer({}, undefined, {}), false);
    assert.equal(runsThroughServer({}, undefined, { AIRLOCK_URL: '', AIRLOCK_SOCKET: '' }), false);
    assert.equal(runsThroughServer({ socket: '/s' }, undefined, {}), true);
    assert.equal(runsThroughServer({ url: 'unix:/s' }, undefined, {}), true);
    assert.equal(runsThroughServer({}, undefined, { AIRLOCK_SOCKET: '/s' }), true);
    assert.equal(runsThroughServer({}, undefined, { AIRLOCK_URL: 'http://127.0.0.1:8002' }), true);
  });

  it('--config beats the ambient AIRLOCK_URL/AIRLOCK_SOCKET (the run stays here), not an explicit --socket/--url', () => {
    assert.equal(runsThroughServer({}, '/etc/airlock/other.json', { AIRLOCK_SOCKET: '/s', AIRLOCK_URL: 'unix:/s' }), false);
    // run.ts refuses this pair rather than ignore --config.
    assert.equal(runsThroughServer({ socket: '/s' }, '/etc/airlock/other.json', {}), true);
  });

  it('maps the options onto the one-shot request, relative mounts resolved here', () => {
    const request = remoteRunRequestOf(
      raw({ runtime: 'gvisor', image: 'py', memory: '256', cpu: '0.5', timeout: '30', env: ['A=1'], secret: ['token'], mount: ['data:/data:rw'], network: 'restricted', allow: ['example.com'], workdir: '/work' }),
      ['python3', '-V'],
      '/home/u',
    );
    assert.deepEqual(request, {
      runtime: 'gvisor',
      image: 'py',
      environment: { A: '1' },
      secrets: ['token'],
      filesystem_access: [{ host_path: '/home/u/data', sandbox_path: '/data', mode: 'rw' }],
      network_policy: 'restricted',
      allowed_hosts: ['example.com'],
      memory_limit_mb: 256,
      cpu_limit: 0.5,
      timeout_seconds: 30,
      workdir: '/work',
      command: ['python3', '-V'],
    });
  });

  it('no command: the image default is left to the server; --language takes code, never a command', () => {
    assert.equal(remoteRunRequestOf(raw(), [], '/').command, undefined);
    assert.deepEqual(remoteRunRequestOf(raw({ language: 'bash', code: 'echo 1' }), [], '/'), { runtime: 'namespace', network_policy: 'none', workdir: '/tmp', language: 'bash', code: 'echo 1' });
    assert.throws(() => remoteRunRequestOf(raw({ language: 'bash' }), ['ls'], '/'), usage(/^--language: give the code with --code or on stdin/));
    assert.throws(() => remoteRunRequestOf(raw({ code: 'x' }), [], '/'), usage(/^--code: requires --language/));
    assert.throws(() => remoteRunRequestOf(raw({ memory: 'lots' }), ['true'], '/'), usage(/^--memory: /));
    assert.throws(() => remoteRunRequestOf(raw({ workdir: 'rel' }), ['true'], '/'), usage(/^--workdir: /));
  });
});
