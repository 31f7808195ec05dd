/**
 * The sandbox service against real sandboxes on both runtimes: persistent state across execs,
 * streamed output, per-exec timeout, files confined to the sandbox, warm pools, TTL reaping,
 * the concurrency cap, and limits that end a sandbox.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AirlockConfig } from '../../src/config/config.ts';
import { SandboxService } from '../../src/sandbox/service.ts';
import { policyDirOf, readBundleHash } from '../../src/policy/bundle-files.ts';
import { ServiceError } from '../../src/sandbox/errors.ts';
import { errorStatus } from '../../src/api/error-codes.ts';
import type { ExecSession } from '../../src/sandbox/service-types.ts';
import { skipReason } from './environment.ts';
import { stretched } from '../security/lib/emulation.ts';
import { isolatedConfig, removeIsolatedState } from '../security/lib/runtime.ts';

// Own state dir, cgroup parent, run dir, uid range and network space: a live deployment is untouched.
const base = isolatedConfig();
const policyBundleHash = await readBundleHash(policyDirOf(base.policy));
const reason = skipReason(base);
after(() => {
  const problems = removeIsolatedState(base);
  if (problems.length > 0) process.stderr.write(`service test cleanup: ${problems.join('; ')}\n`);
});

function configWith(service: Partial<AirlockConfig['service']>): AirlockConfig {
  return { ...base, service: { ...base.service, pools: [], ...service } };
}

async function collect(session: ExecSession): Promise<{ out: string; err: string; result: Awaited<ExecSession['result']> }> {
  const out: string[] = [];
  const err: string[] = [];
  session.onStdout((c) => out.push(c.toString()));
  session.onStderr((c) => err.push(c.toString()));
  const result = await session.result;
  return { out: out.join(''), err: err.join(''), result };
}

const run = (service: SandboxService, id: string, argv: string[], timeoutMs = stretched(10_000)) =>
  service.exec(id, { argv, env: {}, stdin: false, timeoutMs }).then(collect);

for (const runtime of ['namespace', 'gvisor'] as const) {
  describe(`service on ${runtime}`, { skip: reason(runtime) }, () => {
    const service = new SandboxService({ config: configWith({ maxSandboxes: 3 }), policyBundleHash });
    before(() => service.start());
    after(() => service.shutdown());

    test('state persists between execs; env and streams are separate', async () => {
      const info = await service.create({ runtime, limits: {}, metadata: { k: 'v' }, env: { GREETING: 'hello' }, mounts: [] });
      assert.equal(info.state, 'running');
      assert.deepEqual(info.metadata, { k: 'v' });
      const first = await run(service, info.sandbox_id, ['sh', '-c', 'echo "$GREETING" > /tmp/state; echo to-err >&2; exit 4']);
      assert.equal(first.result.exit_code, 4);
      assert.equal(first.err, 'to-err\n');
      const second = await run(service, info.sandbox_id, ['cat', '/tmp/state']);
      assert.equal(second.out, 'hello\n');
      assert.equal(second.result.termination_reason, 'completed');
      await service.kill(info.sandbox_id);
      assert.equal(service.get(info.sandbox_id).end_reason, 'killed');
      await assert.rejects(run(service, info.sandbox_id, ['true']), (e: unknown) => e instanceof ServiceError && e.code === 'sandbox_not_running');
    });

    test('per-exec timeout kills the command, not the sandbox', async () => {
      const info = await service.create({ runtime, limits: {}, metadata: {}, env: {}, mounts: [] });
      const slow = await run(service, info.sandbox_id, ['sleep', '30'], 300);
      assert.equal(slow.result.termination_reason, 'timeout');
      const after = await run(service, info.sandbox_id, ['echo', 'alive']);
      assert.equal(after.out, 'alive\n');
      await service.kill(info.sandbox_id);
    });

    test('files go through the sandbox: round trip, listing, symlinks resolve inside', async () => {
      const info = await service.create({ runtime, limits: {}, metadata: {}, env: {}, mounts: [] });
      await service.writeFile(info.sandbox_id, '/tmp/data.bin', Buffer.from([0, 1, 2, 255]));
      assert.deepEqual([...(await service.readFile(info.sandbox_id, '/tmp/data.bin'))], [0, 1, 2, 255]);
      const names = (await service.listFiles(info.sandbox_id, '/tmp')).map((e) => e.name);
      assert.ok(names.includes('data.bin'));
      // A link to /etc/hostname reads the image's file, never the host's.
      await run(service, info.sandbox_id, ['ln', '-s', '/etc/hostname', '/tmp/link']);
      const viaLink = (await service.readFile(info.sandbox_id, '/tmp/link')).toString();
      assert.equal(viaLink.trim(), 'sandbox');
      await assert.rejects(service.readFile(info.sandbox_id, '/tmp/missing'), (e: unknown) => e instanceof ServiceError && e.code === 'file_not_found');
      // The root is read-only: a write outside scratch is refused with a 4xx code.
      await assert.rejects(service.writeFile(info.sandbox_id, '/etc/evil', Buffer.from('x')), (e: unknown) => e instanceof ServiceError && errorStatus(e.code) < 500);
      await service.kill(info.sandbox_id);
    });

    test('the concurrency cap refuses with capacity_exceeded and a retry hint', async () => {
      const made = [];
      for (let i = 0; i < 3; i++) made.push(await service.create({ runtime, limits: {}, metadata: {}, env: {}, mounts: [] }));
      await assert.rejects(
        service.create({ runtime, limits: {}, metadata: {}, env: {}, mounts: [] }),
        (e: unknown) => e instanceof ServiceError && e.code === 'capacity_exceeded' && e.retryAfterSeconds === 1,
      );
      for (const m of made) await service.kill(m.sandbox_id);
    });

    test('a memory limit hit ends the sandbox and says why', async () => {
      const info = await service.create({ runtime, limits: { memoryMb: 64 }, metadata: {}, env: {}, mounts: [] });
      await run(service, info.sandbox_id, ['python3', '-c', 'b = bytearray(200 << 20)']).catch(() => undefined);
      for (let i = 0; i < stretched(40) && service.get(info.sandbox_id).state === 'running'; i++) await sleep(100);
      assert.equal(service.get(info.sandbox_id).end_reason, 'memory_limit');
    });
  });
}

describe('service lifecycle', { skip: reason('namespace') }, () => {
  test('TTL reaper ends expired sandboxes; setTimeout extends them', async () => {
    const service = new SandboxService({ config: configWith({}), policyBundleHash });
    await service.start();
    try {
      const a = await service.create({ runtime: 'namespace', limits: {}, metadata: {}, env: {}, mounts: [], ttlSeconds: 1 });
      const b = await service.create({ runtime: 'namespace', limits: {}, metadata: {}, env: {}, mounts: [], ttlSeconds: 1 });
      service.setTimeout(b.sandbox_id, 30);
      // Readiness, not a fixed wait: until the reaper has ended `a` (at most 100 turns of 50 ms).
      for (let i = 0; i < stretched(100) && service.get(a.sandbox_id).state === 'running'; i++) await sleep(50);
      assert.equal(service.get(a.sandbox_id).end_reason, 'ttl_expired');
      assert.equal(service.get(b.sandbox_id).state, 'running');
      await assert.rejects(async () => service.create({ runtime: 'namespace', limits: {}, metadata: {}, env: {}, mounts: [], ttlSeconds: 10 ** 9 }), /ttl_seconds/);
    } finally {
      await service.shutdown();
    }
  });

  test('a warm pool hands out ready sandboxes once and refills', async () => {
    // The pool says when it is full: the test waits for that signal, not for a guessed delay.
    let ready = 0;
    let full: () => void = () => undefined;
    const filled = new Promise<void>((resolve) => (full = resolve));
    const service = new SandboxService({
      config: configWith({ pools: [{ runtime: 'namespace', image: base.defaultImage, size: 2, limits: {} }] }),
      policyBundleHash,
      observer: {
        poolChanged: (_key, n) => {
          ready = n;
          if (n >= 2) full();
        },
      },
    });
    await service.start();
    try {
      const state = await Promise.race([filled.then(() => 'full'), sleep(stretched(30_000), 'timeout', { ref: false })]);
      assert.equal(state, 'full', `the pool never filled (ready: ${ready})`);
      const a = await service.create({ runtime: 'namespace', limits: {}, metadata: {}, env: {}, mounts: [] });
      const b = await service.create({ runtime: 'namespace', limits: {}, metadata: {}, env: {}, mounts: [] });
      assert.equal(a.pooled, true);
      assert.equal(b.pooled, true);
      assert.notEqual(a.sandbox_id, b.sandbox_id);
      // Different limits: not the pool's class, so a fresh sandbox.
      const c = await service.create({ runtime: 'namespace', limits: { memoryMb: 300 }, metadata: {}, env: {}, mounts: [] });
      assert.equal(c.pooled, false);
      const out = await run(service, a.sandbox_id, ['echo', 'pooled']);
      assert.equal(out.out, 'pooled\n');
    } finally {
      await service.shutdown();
    }
    const owners = `${base.runDir}/owners`;
    const left = existsSync(owners) ? readdirSync(owners) : [];
    assert.deepEqual(left, [], 'shutdown leaves no sandbox behind');
  });
});
