/**
 * Behavior contracts at run time on both runtimes, with real sandboxes on a restricted network:
 * an egress attempt outside the owner's contract (the egress proxy reports it) is a POLICY
 * violation on that sandbox; with `enforce: kill` the sandbox is killed (`contract_violation`),
 * with `record` it runs on. An attempt within the contract adds nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SandboxService } from '../../src/sandbox/service.ts';
import { policyDirOf, readBundleHash } from '../../src/policy/bundle-files.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { contractEgressGuard } from '../../src/contracts/egress.ts';
import { parseContract } from '../../src/contracts/schema.ts';
import type { SecurityViolation } from '../../src/sandbox/result.ts';
import type { AirlockConfig } from '../../src/config/config.ts';
import { skipReason } from '../integration/environment.ts';
import { isolatedConfig, removeIsolatedState } from './lib/runtime.ts';
import { PYTHON_FETCH, until } from './lib/until.ts';

const base = isolatedConfig();
const reason = skipReason(base);
after(() => {
  const problems = removeIsolatedState(base);
  if (problems.length > 0) process.stderr.write(`contract egress test cleanup: ${problems.join('; ')}\n`);
});

for (const runtime of ['namespace', 'gvisor'] as const) {
  describe(`${runtime}: egress outside the contract`, { skip: reason(runtime) }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-contract-'));
    let store: SqliteStore;
    let service: SandboxService;
    let web: Server;
    const violations: SecurityViolation[] = [];
    before(async () => {
      web = createServer((_req, res) => res.end('page'));
      await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
      const port = (web.address() as AddressInfo).port;
      // The proxy reaches the test's web server as the service `web` (an internal service; nothing outside is contacted).
      const config: AirlockConfig = { ...base, service: { ...base.service, pools: [] }, network: { ...base.network, services: { web: { url: `http://127.0.0.1:${port}`, methods: ['GET'], pathPrefixes: ['/'] } } } };
      store = await SqliteStore.open({ path: join(dir, 'store', 'airlock.db') });
      service = new SandboxService({ config, policyBundleHash: await readBundleHash(policyDirOf(config.policy)), egressGuard: contractEgressGuard(store.contracts), observer: { violationRecorded: (v) => violations.push(v) } });
      await service.start();
    });
    after(async () => {
      await service.shutdown();
      await store.close();
      await new Promise((r) => web.close(r));
      rmSync(dir, { recursive: true, force: true });
    });

    const fetchIn = async (id: string, url: string) => {
      const session = await service.exec(id, { argv: ['python3', '-c', PYTHON_FETCH, url], env: {}, stdin: false, timeoutMs: 20_000 });
      const out: string[] = [];
      session.onStdout((c) => out.push(c.toString()));
      return { result: await session.result, stdout: out.join('').trim() };
    };

    for (const enforce of ['kill', 'record'] as const) {
      test(`enforce: ${enforce}`, async () => {
        const agent = `ct-${runtime}-${enforce}`;
        await store.contracts.set({ agentId: agent, contract: parseContract({ enforce, hosts: ['allowed.example'], network_modes: ['restricted'] }), updatedAtMs: Date.now(), updatedBy: 'test' });
        const info = await service.create({ runtime, limits: {}, metadata: {}, env: {}, mounts: [], agentId: agent, network: { mode: 'restricted', allowedHosts: ['allowed.example'], services: ['web'] } });
        // Within the contract's reach (an internal service is held to `services`, not `hosts`): nothing recorded.
        const inside = await fetchIn(info.sandbox_id, 'http://web.airlock.internal/');
        assert.equal(inside.stdout, '200', JSON.stringify(inside));
        const before = violations.length;
        const outside = await fetchIn(info.sandbox_id, 'http://elsewhere.example/');
        // The proxy refused it (it is not on the allowlist either); the contract makes it a POLICY violation.
        assert.ok(outside.stdout === '403' || enforce === 'kill', JSON.stringify(outside));
        // The refusal itself is a NETWORK violation too (egress_denied); the contract's is the POLICY one.
        const contractViolation = () => violations.slice(before).find((x) => x.violation_type === 'contract_egress');
        await until(() => contractViolation() !== undefined, 10_000, 'the POLICY violation');
        const v = contractViolation();
        assert.deepEqual([v?.detection_layer, v?.violation_type, v?.indicators['host'], v?.indicators['sandbox_id']], ['POLICY', 'contract_egress', 'elsewhere.example', info.sandbox_id]);
        if (enforce === 'kill') {
          await until(() => service.get(info.sandbox_id).state === 'ended', 5000, 'the sandbox to be killed');
          const ended = service.get(info.sandbox_id);
          assert.equal(ended.end_reason, 'contract_violation');
          assert.ok(ended.security_violations.some((x) => x.violation_type === 'contract_egress'));
        } else {
          const running = service.get(info.sandbox_id);
          assert.equal(running.state, 'running');
          assert.ok(running.security_violations.some((x) => x.violation_type === 'contract_egress' && x.detection_layer === 'POLICY'));
          await service.kill(info.sandbox_id);
        }
      });
    }

    test('a service outside the services clause, named by the sandbox, is a POLICY violation (one-shot: in its result)', async () => {
      const agent = `ct-${runtime}-services`;
      await store.contracts.set({ agentId: agent, contract: parseContract({ enforce: 'record', services: ['web'], network_modes: ['restricted'] }), updatedAtMs: Date.now(), updatedBy: 'test' });
      const result = await service.execute({
        agentId: agent, runtime, limits: {}, env: {}, mounts: [], command: ['python3', '-c', PYTHON_FETCH, 'http://vault.airlock.internal/'],
        network: { mode: 'restricted', allowedHosts: [], services: ['web'] },
      });
      assert.equal(result.output, '403', result.error ?? '');
      const v = result.security_violations.find((x) => x.violation_type === 'contract_egress');
      assert.deepEqual([v?.detection_layer, v?.indicators['clause'], v?.indicators['host']], ['POLICY', 'services', 'vault.airlock.internal'], JSON.stringify(result.security_violations));
    });
  });
}
