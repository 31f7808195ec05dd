/**
 * The idle timeout of a persistent sandbox, on both runtimes, through the sandbox service: an exec
 * running longer than the idle timeout holds it off, exec and file operations extend it, and once
 * nothing happens for that long the sandbox ends with `idle_timeout` while one without an idle
 * timeout keeps running (its TTL is the only deadline it has).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { policyDirOf, readBundleHash } from '../../src/policy/bundle-files.ts';
import { SandboxService } from '../../src/sandbox/service.ts';
import { stretched } from '../security/lib/emulation.ts';
import { isolatedConfig, removeIsolatedState } from '../security/lib/runtime.ts';
import { skipReason } from './environment.ts';

const base = isolatedConfig();
const policyBundleHash = await readBundleHash(policyDirOf(base.policy));
const reason = skipReason(base);
after(() => {
  const problems = removeIsolatedState(base);
  if (problems.length > 0) process.stderr.write(`idle timeout test cleanup: ${problems.join('; ')}\n`);
});

const IDLE_SECONDS = 2;

for (const runtime of ['namespace', 'gvisor'] as const) {
  describe(`idle timeout on ${runtime}`, { skip: reason(runtime) }, () => {
    const service = new SandboxService({ config: { ...base, service: { ...base.service, pools: [] } }, policyBundleHash });
    before(() => service.start());
    after(() => service.shutdown());

    test('extended by execs and file operations; ends the sandbox with idle_timeout once unused', { timeout: stretched(90_000) }, async () => {
      const idle = await service.create({ runtime, limits: {}, metadata: {}, env: {}, mounts: [], ttlSeconds: 600, idleTimeoutSeconds: IDLE_SECONDS });
      const plain = await service.create({ runtime, limits: {}, metadata: {}, env: {}, mounts: [], ttlSeconds: 600 });
      assert.equal(idle.idle_timeout_seconds, IDLE_SECONDS);
      assert.equal(plain.idle_timeout_seconds, null);
      try {
        // An exec longer than the idle timeout: running is not idle.
        const long = await service.exec(idle.sandbox_id, { argv: ['sleep', String(IDLE_SECONDS + 2)], env: {}, stdin: false, timeoutMs: stretched(30_000) });
        assert.equal((await long.result).termination_reason, 'completed');
        // File operations more often than the idle timeout, for longer than it.
        for (let i = 0; i < 4; i++) {
          await service.writeFile(idle.sandbox_id, '/tmp/tick', Buffer.from(String(i)));
          await sleep((IDLE_SECONDS * 1000) / 2);
        }
        assert.equal(service.get(idle.sandbox_id).end_reason, null, 'ended while in use');
        assert.equal((await service.readFile(idle.sandbox_id, '/tmp/tick')).toString(), '3');
        // Now unused: it ends by itself, named as such.
        const deadline = Date.now() + stretched(20_000);
        while (service.get(idle.sandbox_id).end_reason === null && Date.now() < deadline) await sleep(200);
        assert.equal(service.get(idle.sandbox_id).end_reason, 'idle_timeout');
        assert.equal(service.get(plain.sandbox_id).end_reason, null, 'a sandbox without an idle timeout ended');
      } finally {
        await service.kill(plain.sandbox_id).catch(() => undefined);
        await service.kill(idle.sandbox_id).catch(() => undefined);
      }
    });
  });
}
