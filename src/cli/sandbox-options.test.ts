import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AirlockError, NetworkError, RateLimitError, SandboxNotFoundError } from '../../sdk/errors.ts';
import type { SandboxInfo } from '../../sdk/types.ts';
import { describeError, formatFileTable, formatSandboxTable } from './sandbox-format.ts';
import { createRequestOf, DEFAULT_URL, loopbackAllowNote, parseMode, parsePositive, resolveUrl, type RawCreateOptions } from './sandbox-options.ts';
import { parseEnv } from './sandbox-spec-options.ts';
import { UsageError } from './usage-error.ts';
import { DEFAULT_API_PORT } from '../config/config.ts';

const usage = (pattern: RegExp) => (err: unknown) => err instanceof UsageError && pattern.test(err.message);
const raw = (over: Partial<RawCreateOptions> = {}): RawCreateOptions => ({ metadata: [], env: [], ...over });

describe('sandbox CLI options', () => {
  it('--url, else AIRLOCK_URL, else the local server; only http(s)', () => {
    assert.equal(resolveUrl(undefined, {}), DEFAULT_URL);
    // The client's default (the SDK's) is where `airlock serve` listens by default.
    assert.equal(DEFAULT_URL, `http://127.0.0.1:${DEFAULT_API_PORT}`);
    assert.equal(resolveUrl(undefined, { AIRLOCK_URL: 'https://airlock.example:8443' }), 'https://airlock.example:8443');
    assert.equal(resolveUrl('http://10.0.0.2:8002', { AIRLOCK_URL: 'http://other' }), 'http://10.0.0.2:8002');
    assert.throws(() => resolveUrl('localhost:8002', {}), usage(/^--url: "localhost:8002" must be an http or https URL/));
    assert.throws(() => resolveUrl('not a url', {}), usage(/^--url: "not a url" is not a URL/));
    assert.throws(() => resolveUrl(undefined, { AIRLOCK_URL: 'ftp://x' }), usage(/^AIRLOCK_URL: /));
  });

  it('maps create options to the wire request', () => {
    assert.deepEqual(createRequestOf(raw()), {});
    assert.deepEqual(
      createRequestOf(raw({ runtime: 'gvisor', image: 'default', memory: '256', cpu: '0.5', pids: '64', scratch: '32', timeout: '30', ttl: '600', metadata: ['team=ml', 'run:id=7'], env: ['A=1', 'B=x=y'] })),
      {
        runtime: 'gvisor',
        image: 'default',
        limits: { memory_limit_mb: 256, cpu_limit: 0.5, pids_limit: 64, scratch_mb: 32, timeout_seconds: 30 },
        ttl_seconds: 600,
        metadata: { team: 'ml', 'run:id': '7' },
        environment: { A: '1', B: 'x=y' },
      },
    );
  });

  it('maps network options; the mode is checked here, the allowlist by the server', () => {
    assert.deepEqual(createRequestOf(raw({ network: 'restricted', allow: ['pypi.org', '*.example.com:8443'], service: ['inference'] })), {
      network_policy: 'restricted',
      allowed_hosts: ['pypi.org', '*.example.com:8443'],
      services: ['inference'],
    });
    assert.throws(() => createRequestOf(raw({ network: 'open' })), usage(/^--network: unknown mode "open"/));
  });

  it('refuses malformed values naming the option', () => {
    assert.throws(() => createRequestOf(raw({ memory: '12abc' })), usage(/^--memory: "12abc" is not a number/));
    assert.throws(() => createRequestOf(raw({ memory: '1.5' })), usage(/^--memory: must be a whole number, got 1.5$/));
    assert.throws(() => createRequestOf(raw({ cpu: '0' })), usage(/^--cpu: must be greater than 0, got 0$/));
    assert.throws(() => createRequestOf(raw({ memory: '-5' })), usage(/^--memory: must be positive, got -5$/));
    assert.deepEqual(createRequestOf(raw({ ttl: '600', idleTimeout: '120' })), { ttl_seconds: 600, idle_timeout_seconds: 120 });
    assert.throws(() => createRequestOf(raw({ idleTimeout: '1.5' })), usage(/^--idle-timeout: must be a whole number, got 1.5$/));
    assert.throws(() => createRequestOf(raw({ ttl: '-5' })), usage(/^--ttl: /));
    assert.throws(() => createRequestOf(raw({ metadata: ['novalue'] })), usage(/^--metadata: expected KEY=VALUE/));
    assert.throws(() => createRequestOf(raw({ metadata: ['bad key=1'] })), usage(/^--metadata: /));
    assert.throws(() => parseEnv(['1A=x']), usage(/^--env: expected KEY=VALUE/));
    assert.equal(parsePositive('--timeout', '2.5'), 2.5);
    assert.equal(parseMode('0644'), '0644');
    assert.throws(() => parseMode('4755'), usage(/^--mode: /));
  });
});

describe('sandbox CLI output', () => {
  const info: SandboxInfo = {
    sandbox_id: 's-1',
    owner: 'agent-1',
    runtime: 'namespace',
    accelerator: null,
    image: 'default',
    image_digest: 'sha256:00',
    image_signer: null,
    state: 'running',
    created_at: '2026-01-01T00:00:00.000Z',
    expires_at: '2026-01-01T00:05:00.000Z',
    idle_timeout_seconds: null,
    metadata: { team: 'ml' },
    limits: { memory_limit_mb: 512, cpu_limit: 0.5, pids_limit: 256, scratch_mb: 64, timeout_seconds: 300 },
    pooled: false,
    network_policy: 'none',
    allowed_hosts: [],
    security_violations: [],
    end_reason: null,
    ended_at: null,
  };

  it('renders sandboxes and files as aligned tables', () => {
    const now = Date.parse('2026-01-01T00:00:01.000Z');
    const ended: SandboxInfo = { ...info, sandbox_id: 's-22', state: 'ended', end_reason: 'ttl_expired', metadata: {} };
    assert.equal(
      formatSandboxTable([info, ended], now),
      [
        'ID    RUNTIME    STATE                CREATED                   EXPIRES IN  METADATA',
        's-1   namespace  running              2026-01-01T00:00:00.000Z  4m59s       team=ml',
        's-22  namespace  ended (ttl_expired)  2026-01-01T00:00:00.000Z  -           -',
        '',
      ].join('\n'),
    );
    assert.equal(
      formatFileTable([{ name: 'a.txt', path: '/tmp/a.txt', type: 'file', size: 12, mode: 0o100644, modified_at: '2026-01-01T00:00:00.000Z' }]),
      'TYPE  MODE  SIZE  MODIFIED                  NAME\nfile  0644  12    2026-01-01T00:00:00.000Z  a.txt\n',
    );
  });

  it('error lines name the code, the retry delay, or how to reach the server', () => {
    assert.equal(describeError(new SandboxNotFoundError('no sandbox s-9', { code: 'sandbox_not_found', status: 404 }), DEFAULT_URL), 'no sandbox s-9 [sandbox_not_found]');
    assert.equal(describeError(new RateLimitError('64 sandboxes are running', { code: 'capacity_exceeded', retryAfter: 2 }), DEFAULT_URL), '64 sandboxes are running [capacity_exceeded]; retry in 2 s');
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const network = new NetworkError('GET /health: fetch failed', { code: 'network_error', cause: new TypeError('fetch failed', { cause: refused }) });
    assert.match(describeError(network, DEFAULT_URL), /^cannot reach the server at http:\/\/127\.0\.0\.1:8002 \(ECONNREFUSED\); is `airlock serve` running\?/);
    assert.equal(describeError(new AirlockError('x', { code: 'stream_ended' }), DEFAULT_URL), 'x [stream_ended]');
  });
});

describe('loopbackAllowNote', () => {
  it('names the host name to use for loopback entries, and nothing for others', () => {
    assert.equal(loopbackAllowNote(['pypi.org', 'host.airlock.internal:8080']), undefined);
    const note = loopbackAllowNote(['127.0.0.1:8080', 'pypi.org']);
    assert.equal(note, 'note: 127.0.0.1:8080 inside the sandbox is its own loopback, which clients reach directly, not through the proxy; for a service on this host\'s loopback use --allow host.airlock.internal:8080 and http://host.airlock.internal:8080/');
    assert.match(loopbackAllowNote(['localhost']) ?? '', /--allow host\.airlock\.internal:80 /);
  });
});
