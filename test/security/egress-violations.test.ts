/**
 * Egress refusals of a restricted sandbox are violations, on every runtime with real sandboxes: a
 * probe of the cloud metadata service (HIGH), a private address (MEDIUM) and a host outside the
 * allowlist (LOW, recorded once however often it is tried) are on the sandbox and reported; with
 * `violations.response` HIGH: kill, the metadata probe ends the sandbox.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SandboxService } from '../../src/sandbox/service.ts';
import { policyDirOf, readBundleHash } from '../../src/policy/bundle-files.ts';
import type { SecurityViolation } from '../../src/sandbox/result.ts';
import type { AirlockConfig } from '../../src/config/config.ts';
import { skipReason } from '../integration/environment.ts';
import { isolatedConfig, removeIsolatedState } from './lib/runtime.ts';
import { PYTHON_FETCH, until } from './lib/until.ts';

const base = isolatedConfig();
const reason = skipReason(base);
after(() => {
  const problems = removeIsolatedState(base);
  if (problems.length > 0) process.stderr.write(`egress violations test cleanup: ${problems.join('; ')}\n`);
});

for (const runtime of ['namespace', 'gvisor', 'microvm'] as const) {
  describe(`${runtime}: egress refusals as violations`, { skip: reason(runtime) }, () => {
    const violations: SecurityViolation[] = [];
    const services: SandboxService[] = [];
    const start = async (config: AirlockConfig) => {
      const service = new SandboxService({ config, policyBundleHash: await readBundleHash(policyDirOf(config.policy)), observer: { violationRecorded: (v) => violations.push(v) } });
      services.push(service);
      await service.start();
      return service;
    };
    let service: SandboxService;
    before(async () => {
      service = await start({ ...base, service: { ...base.service, pools: [] } });
    });
    after(async () => {
      for (const s of services) await s.shutdown();
    });
    const fetchIn = async (s: SandboxService, id: string, urls: string[]) => {
      const session = await s.exec(id, { argv: ['python3', '-c', PYTHON_FETCH, ...urls], env: {}, stdin: false, timeoutMs: 30_000 });
      const out: string[] = [];
      session.onStdout((c) => out.push(c.toString()));
      return { result: await session.result, lines: out.join('').trim().split('\n') };
    };
    const restricted = { mode: 'restricted' as const, allowedHosts: ['allowed.example'], services: [] };

    test('metadata, private-address and unlisted-host refusals are recorded with their severity, each attempt once', async () => {
      const info = await service.create({ runtime, limits: {}, metadata: {}, env: {}, mounts: [], agentId: `ev-${runtime}`, network: restricted });
      const urls = ['http://169.254.169.254/latest/meta-data/', 'http://10.1.2.3/', 'http://elsewhere.example/', 'http://elsewhere.example/again'];
      const run = await fetchIn(service, info.sandbox_id, urls);
      assert.deepEqual(run.lines, ['403', '403', '403', '403'], JSON.stringify(run));
      const mine = () => service.get(info.sandbox_id).security_violations.filter((v) => v.detection_layer === 'NETWORK');
      await until(() => mine().length >= 3, 10_000, 'three NETWORK violations');
      const seen = mine().map((v) => [v.violation_type, v.severity, v.indicators['host'], v.indicators['reason']]).sort();
      assert.deepEqual(seen, [
        ['cloud_metadata_probe', 'HIGH', '169.254.169.254', 'cloud_metadata'],
        ['egress_denied', 'LOW', 'elsewhere.example', 'not_allowlisted'],
        ['internal_network_probe', 'MEDIUM', '10.1.2.3', 'private_address'],
      ]);
      // Reported too (metrics, audit): the same three, the repeated host once.
      assert.equal(violations.filter((v) => v.indicators['sandbox_id'] === info.sandbox_id).length, 3);
      // Default response: recorded, the sandbox runs on.
      assert.equal(service.get(info.sandbox_id).state, 'running');
      await service.kill(info.sandbox_id);
    });

    test('violations.response HIGH: kill ends the sandbox at the metadata probe', async () => {
      const strict = await start({ ...base, service: { ...base.service, pools: [] }, violations: { response: { LOW: 'record', MEDIUM: 'record', HIGH: 'kill', CRITICAL: 'kill' } } });
      const info = await strict.create({ runtime, limits: {}, metadata: {}, env: {}, mounts: [], agentId: `ev-kill-${runtime}`, network: restricted });
      await fetchIn(strict, info.sandbox_id, ['http://169.254.169.254/latest/meta-data/']).catch(() => undefined);
      await until(() => strict.get(info.sandbox_id).state === 'ended', 10_000, 'the sandbox to be killed');
      const ended = strict.get(info.sandbox_id);
      assert.equal(ended.end_reason, 'killed');
      assert.ok(ended.security_violations.some((v) => v.violation_type === 'cloud_metadata_probe'));
    });
  });
}
