import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it, type TestContext } from 'node:test';
import { Admission, type AdmissionInput } from '../admission/admission.ts';
import type { Caller } from '../admission/caller.ts';
import { refusalOf } from '../admission/test-helpers.ts';
import type { AuditRecord } from '../audit/record.ts';
import { PolicyEngine } from '../policy/engine.ts';
import { SHIPPED_POLICY_DIR } from '../policy/bundle-files.ts';
import type { SandboxSpec } from '../policy/request.ts';
import { DEFAULT_TEST_SPEC } from '../policy/test-spec.ts';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import { tempStorePath } from '../store/test-helpers.ts';
import { contractEgressGuard } from './egress.ts';
import { CONTRACT_SCHEMA_PATH, contractSchemaText, parseContract } from './schema.ts';
import { contractStep } from './step.ts';
import { suggestContract } from './suggest.ts';

const ALICE: Caller = { name: 'alice', role: 'agent', agentId: 'alice', groups: ['secret.openai_key', 'secret.gh_token'], via: 'signature' };

const CONTRACT = {
  enforce: 'kill',
  hosts: ['api.openai.com', '*.github.com', 'pypi.org:8443'],
  services: ['inference'],
  paths: { read: ['/srv/data'], write: ['/srv/out'] },
  secrets: ['openai_key'],
  limits: { memory_mb: 512, cpu: 1, pids: 64, timeout_seconds: 120 },
  runtimes: ['gvisor'],
  network_modes: ['none', 'restricted'],
};

/** A spec within CONTRACT, with `change` applied. */
function spec(change: Partial<SandboxSpec> = {}): SandboxSpec {
  return {
    ...DEFAULT_TEST_SPEC,
    runtime: 'gvisor',
    network: { mode: 'restricted', allowedHosts: ['api.openai.com'] },
    mounts: [],
    limits: { ...DEFAULT_TEST_SPEC.limits, memoryMb: 256, cpuCores: 1, pids: 32, timeoutSeconds: 60 },
    ...change,
  };
}

async function fixture(t: TestContext) {
  const { path } = await tempStorePath(t);
  const store = await SqliteStore.open({ path });
  t.after(() => store.close());
  await store.contracts.set({ agentId: 'alice', contract: parseContract(CONTRACT), updatedAtMs: 1, updatedBy: 'root' });
  return store;
}

describe('contract schema', () => {
  it('policies/contract.schema.json is generated from the one zod schema', () => {
    assert.equal(readFileSync(CONTRACT_SCHEMA_PATH, 'utf8'), contractSchemaText(), 'run: node src/contracts/schema.ts --write');
  });

  it('refuses unknown clauses and bad values, naming each', () => {
    assert.throws(() => parseContract({ hosts: ['*'] }), /hosts\.0: not a host entry/);
    assert.throws(() => parseContract({ host: ['x.com'] }), /Unrecognized key.*host/);
    assert.throws(() => parseContract({ paths: { read: ['relative'] } }), /paths\.read\.0/);
    assert.throws(() => parseContract({ paths: { write: ['/srv/../etc'] } }), /paths\.write\.0/);
    assert.throws(() => parseContract({ runtimes: ['docker'] }), /runtimes\.0/);
    assert.throws(() => parseContract({ runtimes: [] }), /runtimes/);
    assert.throws(() => parseContract({ limits: { memory_mb: -1 } }), /limits\.memory_mb/);
    assert.throws(() => parseContract({ enforce: 'maybe' }), /enforce/);
    assert.throws(() => parseContract([]), /\(root\)/);
    assert.equal(parseContract({}).enforce, 'record');
  });
});

describe('the contract step of admission', () => {
  it('admits what fits and refuses each clause, naming it', async (t) => {
    const store = await fixture(t);
    const engine = await PolicyEngine.load(SHIPPED_POLICY_DIR);
    const admission = new Admission({ engine, settings: { defaultImage: 'default', hostRoots: ['/srv'] }, contracts: [contractStep(store.contracts)] });
    const create = (s: SandboxSpec, parameters: unknown = {}): AdmissionInput => ({ caller: ALICE, action: 'create', sandbox: { id: 'new', owner: 'alice', spec: s }, request: s, parameters });
    assert.ok((await admission.admit(create(spec()))).admitted);
    assert.ok((await admission.admit(create(spec({ network: { mode: 'restricted', allowedHosts: ['api.github.com', '*.gist.github.com', 'pypi.org:8443'] }, secrets: ['openai_key'] }), { network: { services: ['inference'] } }))).admitted);

    const cases: [string, SandboxSpec, unknown?][] = [
      ['runtimes', spec({ runtime: 'namespace' })],
      ['network_modes', spec({ network: { mode: 'full', allowedHosts: [] } })],
      ['hosts', spec({ network: { mode: 'restricted', allowedHosts: ['evil.example'] } })],
      ['hosts', spec({ network: { mode: 'restricted', allowedHosts: ['*.openai.com'] } })],
      ['hosts', spec({ network: { mode: 'restricted', allowedHosts: ['pypi.org'] } })],
      ['services', spec(), { network: { services: ['inference', 'db'] } }],
      ['paths.read', spec({ mounts: [{ hostPath: '/srv/other', sandboxPath: '/mnt', writable: false }] })],
      ['paths.write', spec({ mounts: [{ hostPath: '/srv/data/x', sandboxPath: '/mnt', writable: true }] })],
      ['secrets', spec({ secrets: ['gh_token'] })],
      ['limits.memory_mb', spec({ limits: { ...spec().limits, memoryMb: 1024 } })],
      ['limits.cpu', spec({ limits: { ...spec().limits, cpuCores: 2 } })],
      ['limits.pids', spec({ limits: { ...spec().limits, pids: 65 } })],
      ['limits.timeout_seconds', spec({ limits: { ...spec().limits, timeoutSeconds: 121 } })],
    ];
    for (const [clause, s, parameters] of cases) {
      const refusal = await refusalOf(admission.admit(create(s, parameters)));
      assert.deepEqual([refusal.step, refusal.code], ['contract', 'contract_violation'], clause);
      assert.match(refusal.message, new RegExp(`^beyond the contract of agent alice: clause ${clause.replace('.', '\\.')}: `), refusal.message);
    }
    // A read grant under a write path is fine; an allowlist change is held to the contract too.
    assert.ok((await admission.admit(create(spec({ mounts: [{ hostPath: '/srv/out/a', sandboxPath: '/mnt', writable: false }] })))).admitted);
    const change = spec({ network: { mode: 'restricted', allowedHosts: ['evil.example'] } });
    const refusal = await refusalOf(admission.admit({ caller: ALICE, action: 'network.change', sandbox: { id: 's-1', owner: 'alice', spec: spec() }, request: change, parameters: {} }));
    assert.match(refusal.message, /clause hosts: evil\.example/);
    // Another agent has no contract: not narrowed.
    const bob: Caller = { ...ALICE, name: 'bob', agentId: 'bob' };
    assert.ok((await admission.admit({ caller: bob, action: 'create', sandbox: { id: 'new', owner: 'bob', spec: spec({ runtime: 'namespace' }) }, request: spec({ runtime: 'namespace' }), parameters: {} })).admitted);
  });

  it('fails closed on a stored contract that no longer parses', async (t) => {
    const store = await fixture(t);
    await store.contracts.set({ agentId: 'alice', contract: { runtimes: ['docker'] }, updatedAtMs: 2, updatedBy: 'root' });
    const refusal = await refusalOf(contractStep(store.contracts)({ caller: ALICE, action: 'create', sandbox: { id: 'new', owner: 'alice', spec: spec() }, request: spec(), parameters: {} }) as Promise<void>);
    assert.match(refusal.message, /cannot be read: invalid contract: runtimes\.0/);
  });
});

describe('the contract at run time', () => {
  it('an egress attempt outside the hosts clause is a POLICY violation, with kill per enforce', async (t) => {
    const store = await fixture(t);
    const guard = contractEgressGuard(store.contracts);
    const decision = (host: string, port = 443, allowed = false) => ({ sandboxId: 's-1', time: '', kind: 'connect' as const, host, port, allowed, reason: '' });
    assert.equal(await guard('alice', decision('api.openai.com', 443, true)), undefined);
    assert.equal(await guard('alice', decision('x.github.com')), undefined);
    const outside = await guard('alice', decision('evil.example'));
    assert.equal(outside?.kill, true);
    assert.deepEqual([outside?.violation.detection_layer, outside?.violation.severity, outside?.violation.violation_type, outside?.violation.indicators['host']], ['POLICY', 'HIGH', 'contract_egress', 'evil.example']);
    assert.ok((await guard('alice', decision('pypi.org', 443))) !== undefined, 'pypi.org is in the contract on 8443 only');
    assert.equal(await guard('bob', decision('evil.example')), undefined, 'no contract: nothing to hold to');
    await store.contracts.set({ agentId: 'alice', contract: parseContract({ hosts: [] }), updatedAtMs: 3, updatedBy: 'root' });
    assert.equal((await guard('alice', decision('api.openai.com')))?.kill, false);
  });

  it('holds internal services to the services clause at run time, by name, refused or not', async (t) => {
    const store = await fixture(t);
    const guard = contractEgressGuard(store.contracts);
    const decision = (host: string, kind: 'http' | 'service', allowed: boolean, reason = '') => ({ sandboxId: 's-1', time: '', kind, host, port: 80, allowed, reason });
    assert.equal(await guard('alice', decision('inference.airlock.internal', 'service', true, 'service')), undefined);
    const other = await guard('alice', decision('vault.airlock.internal', 'http', false, 'unknown_service'));
    assert.deepEqual([other?.kill, other?.violation.indicators['clause'], other?.violation.description], [true, 'services', 'service vault is outside the contract of agent alice (clause services)']);
    // A service reached by its URL's address is one the sandbox was given (admission held it to the clause).
    assert.equal(await guard('alice', decision('10.0.0.5', 'service', true, 'service')), undefined);
    // The host's own name is a host, held to the hosts clause.
    assert.equal((await guard('alice', decision('host.airlock.internal', 'http', false)))?.violation.indicators['clause'], 'hosts');
    // No services clause: no run-time services check either.
    await store.contracts.set({ agentId: 'alice', contract: parseContract({ hosts: ['api.openai.com'] }), updatedAtMs: 2, updatedBy: 'root' });
    assert.equal(await guard('alice', decision('vault.airlock.internal', 'service', true, 'service')), undefined);
  });
});

describe('contracts suggest', () => {
  it('proposes runtimes, modes, secrets, the highest limits and the hosts reached, from recorded evidence', () => {
    const rec = (kind: AuditRecord['kind'], data: Record<string, unknown>) => ({ kind, data }) as unknown as AuditRecord;
    const { contract, evidence } = suggestContract([
      rec('sandbox.created', { runtime: 'gvisor', network_policy: 'restricted', secrets: ['openai_key'], limits: { memory_limit_mb: 256, cpu_limit: 0.5, pids_limit: 64, timeout_seconds: 30 } }),
      rec('sandbox.created', { runtime: 'gvisor', network_policy: 'none', limits: { memory_limit_mb: 512, cpu_limit: 1, pids_limit: 32, timeout_seconds: 60 } }),
      rec('execution.finished', { runtime_used: 'namespace' }),
      rec('egress', { host: 'api.openai.com', port: 443, allowed: true, kind: 'connect' }),
      rec('egress', { host: 'pypi.org', port: 8443, allowed: true, kind: 'connect' }),
      rec('egress', { host: 'evil.example', port: 443, allowed: false, kind: 'connect' }),
      rec('egress', { host: 'inference', port: 80, allowed: true, kind: 'service' }),
    ]);
    assert.deepEqual(evidence, { sandboxes: 2, executions: 1, egress: 2 });
    assert.deepEqual(contract, {
      enforce: 'record', runtimes: ['gvisor', 'namespace'], network_modes: ['none', 'restricted'], hosts: ['api.openai.com', 'pypi.org:8443'], secrets: ['openai_key'],
      limits: { memory_mb: 512, cpu: 1, pids: 64, timeout_seconds: 60 },
    });
    // What it proposes is a valid contract.
    assert.deepEqual(parseContract(JSON.parse(JSON.stringify(contract))), contract);
  });
});
