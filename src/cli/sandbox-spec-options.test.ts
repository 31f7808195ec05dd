import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema } from '../config/config.ts';
import { parseRunOptions, type RawRunOptions } from './run-options.ts';
import { createRequestOf, type RawCreateOptions } from './sandbox-options.ts';
import { UsageError } from './usage-error.ts';
import { checkNetworkRequest } from '../network/policy.ts';
import { checkAllowEntries } from './sandbox-spec-options.ts';

const config = configSchema.parse({});
const run = (over: Partial<RawRunOptions>): RawRunOptions => ({ runtime: 'namespace', env: [], mount: [], workdir: '/tmp', network: 'none', allow: [], service: [], json: false, ...over });
const create = (over: Partial<RawCreateOptions>): RawCreateOptions => ({ metadata: [], env: [], ...over });

/** The UsageError message `fn` throws; fails when it throws nothing or something else. */
function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected a refusal');
}

// Each bad value, as `run` and `sandbox create` both take it (option names and shapes are the same).
const BAD: Array<[string, Partial<RawRunOptions> & Partial<RawCreateOptions>, RegExp]> = [
  ['runtime', { runtime: 'docker' }, /^--runtime: unknown runtime "docker" \(choose namespace, gvisor, microvm\)$/],
  ['image', { image: 'Bad Name' }, /^--image: invalid image name "Bad Name"$/],
  ['memory negative', { memory: '-5' }, /^--memory: must be positive, got -5$/],
  ['memory zero', { memory: '0' }, /^--memory: must be greater than 0, got 0$/],
  ['memory not a number', { memory: '12abc' }, /^--memory: "12abc" is not a number$/],
  ['pids fraction', { pids: '1.5' }, /^--pids: must be a whole number, got 1.5$/],
  ['cpu zero', { cpu: '0' }, /^--cpu: must be greater than 0, got 0$/],
  ['scratch negative', { scratch: '-1' }, /^--scratch: must be positive, got -1$/],
  ['timeout text', { timeout: 'soon' }, /^--timeout: "soon" is not a number$/],
  ['env', { env: ['1BAD=x'] }, /^--env: expected KEY=VALUE with a valid name, got "1BAD=x"$/],
  ['env without =', { env: ['NOEQUALS'] }, /^--env: expected KEY=VALUE/],
  ['secret', { secret: ['Upper'] }, /^--secret: "Upper" is not a secret name/],
  ['mount shape', { mount: ['/a'] }, /^--mount: expected HOST:SANDBOX\[:ro\|rw\], got "\/a"$/],
  ['mount mode', { mount: ['/a:/b:rx'] }, /^--mount: mode must be ro or rw, got "rx"$/],
  ['mount relative target', { mount: ['/a:relative'] }, /^--mount: sandbox path must be absolute/],
  ['mount dot-dot', { mount: ['/a:/x/../etc'] }, /^--mount: sandbox path may not contain/],
  ['mount reserved', { mount: ['/a:/proc/x'] }, /^--mount: \/proc\/x is managed by the runtime/],
  ['network mode', { network: 'open' }, /^--network: unknown mode "open" \(choose none, restricted, full\)$/],
  ['allow without restricted', { network: 'full', allow: ['example.com'] }, /^--allow: only applies to --network restricted$/],
  ['service without restricted', { network: 'none', service: ['inference'] }, /^--service: only applies to --network restricted$/],
];

describe('run and sandbox create refuse the same values with the same message', () => {
  for (const [name, over, pattern] of BAD) {
    it(name, () => {
      const fromRun = messageOf(() => parseRunOptions(run(over as Partial<RawRunOptions>), ['true'], config, '/home/u'));
      const fromCreate = messageOf(() => createRequestOf(create(over as Partial<RawCreateOptions>), '/home/u'));
      assert.match(fromRun, pattern);
      assert.equal(fromCreate, fromRun);
    });
  }

  it('a malformed --allow entry is refused before sending, as run refuses it', async () => {
    const allow = ['http://x/', '*.com', 'pypi.org'];
    // What `airlock run` prints for these entries (run-command.ts: NetworkManager.validate → checkNetworkRequest).
    const fromRun = await checkNetworkRequest({ mode: 'restricted', allowedHosts: allow, services: [] }, config.network).then(
      () => assert.fail('run accepted a bad allowlist'),
      (err: Error) => `--allow/--service: ${err.message}`,
    );
    await assert.rejects(checkAllowEntries(allow), (err: unknown) => err instanceof UsageError && err.message === fromRun);
    assert.match(fromRun, /http:\/\/x\/: entry contains a path.*\*\.com: "\*\.com" is too broad/);
    await checkAllowEntries(['pypi.org', '*.example.com:8443', 'host.airlock.internal:8080']);
  });

  it('--allow without --network is refused on create as on run (the default is none on both)', () => {
    assert.equal(messageOf(() => createRequestOf(create({ allow: ['pypi.org'] }), '/')), '--allow: only applies to --network restricted');
  });
});

describe('sandbox create: grants and network options on the wire', () => {
  it('maps --mount to filesystem_access, read-only unless rw, relative host paths from the caller directory', () => {
    assert.deepEqual(createRequestOf(create({ mount: ['data:/data', '/srv/out/:/out/:rw', '../x:/x:ro'] }), '/home/u/proj').filesystem_access, [
      { host_path: '/home/u/proj/data', sandbox_path: '/data', mode: 'ro' },
      { host_path: '/srv/out/', sandbox_path: '/out', mode: 'rw' },
      { host_path: '/home/u/x', sandbox_path: '/x', mode: 'ro' },
    ]);
    assert.equal(createRequestOf(create({}), '/').filesystem_access, undefined);
  });

  it('the grant run plans and the grant create sends name the same host and sandbox paths', () => {
    const spec = ['./data:/data:rw'];
    const [planned] = parseRunOptions(run({ mount: spec }), ['true'], config, '/work/p').mounts;
    const [sent] = createRequestOf(create({ mount: spec }), '/work/p').filesystem_access ?? [];
    assert.deepEqual(sent, { host_path: planned?.hostPath, sandbox_path: planned?.sandboxPath, mode: 'rw' });
  });

  it('sends the network policy only when given, with its allowlist and services', () => {
    assert.deepEqual(createRequestOf(create({ network: 'restricted', allow: ['pypi.org'], service: ['inference'] }), '/'), {
      network_policy: 'restricted',
      allowed_hosts: ['pypi.org'],
      services: ['inference'],
    });
    assert.deepEqual(createRequestOf(create({ network: 'none' }), '/'), { network_policy: 'none' });
    assert.deepEqual(createRequestOf(create({ runtime: 'gvisor', image: 'python-3.12' }), '/'), { runtime: 'gvisor', image: 'python-3.12' });
  });
});
