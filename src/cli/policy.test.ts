import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './test-cli.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHIPPED = join(ROOT, 'policies');

async function workspace(t: { after: (fn: () => Promise<void>) => void }, config: Record<string, unknown> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-cli-policy-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const configFile = join(dir, 'config.json');
  await writeFile(configFile, JSON.stringify({ stateDir: join(dir, 'state'), ...config }));
  const bundle = join(dir, 'policies');
  await cp(SHIPPED, bundle, { recursive: true });
  return { dir, configFile, bundle };
}

test('policy check of a valid bundle prints OK with the bundle hash', async (t) => {
  const { configFile, bundle } = await workspace(t);
  const r = await runCli(['policy', 'check', bundle], { config: configFile });
  assert.equal(r.code, 0, r.stderr);
  // The count the bundle has (src/policy/bundle.test.ts pins the shipped one).
  const { PolicyEngine } = await import('../policy/engine.ts');
  const count = (await PolicyEngine.load(bundle)).policies.length;
  assert.match(r.stdout, new RegExp(`^OK .*policies: ${count} policies, sha256:[0-9a-f]{64}\n$`));
  const shipped = await runCli(['policy', 'check', '--json'], { config: configFile });
  assert.equal(shipped.code, 0, shipped.stderr);
  const json = JSON.parse(shipped.stdout) as { ok: boolean; dir: string; hash: string };
  assert.equal(json.ok, true);
  assert.equal(json.dir, `${SHIPPED}/`, 'no DIR and no policy.dir: the shipped bundle');
  assert.equal(r.stdout.trim().split(' ').at(-1), json.hash, 'same files, same hash');
});

test('policy check of an invalid bundle lists each error with file and line, exit 1', async (t) => {
  const { configFile, bundle } = await workspace(t);
  await writeFile(join(bundle, 'local.cedar'), '\n\n@id("bad")\npermit (principal is Airlock::Agent, action, resource is Airlock::Sandbox)\nwhen { resource.spec.image == 7 };\n');
  const r = await runCli(['policy', 'check', bundle], { config: configFile });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^invalid policy bundle .*\n {2}local\.cedar:5:\d+: /);
  const json = await runCli(['policy', 'check', '--json', bundle], { config: configFile });
  assert.equal(json.code, 1);
  const out = JSON.parse(json.stdout) as { ok: boolean; issues: { file: string; line: number }[] };
  assert.equal(out.ok, false);
  assert.deepEqual(out.issues.map((i) => `${i.file}:${i.line}`), ['local.cedar:5']);
});

test('policy check takes its default bundle from the config policy.dir', async (t) => {
  const { configFile, bundle, dir } = await workspace(t);
  await writeFile(join(bundle, 'operators.cedar'), 'permit (principal, action, resource);\n');
  await writeFile(configFile, JSON.stringify({ stateDir: join(dir, 'state'), policy: { dir: bundle } }));
  const r = await runCli(['policy', 'check'], { config: configFile });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /operators\.cedar:1:1: policy has no @id/);
});

test('policy check --request decides sample requests and names the deciding policies', async (t) => {
  const { configFile, bundle, dir } = await workspace(t, { policy: { hostRoots: ['/srv/work'] } });
  const requests = join(dir, 'requests.json');
  await writeFile(
    requests,
    JSON.stringify([
      { principal: { role: 'agent', id: 'a1' }, action: 'create' },
      { principal: { role: 'agent', id: 'a1' }, action: 'create', sandbox: { spec: { network: { mode: 'full' } } } },
      { principal: { role: 'agent', id: 'a1' }, action: 'kill', sandbox: { id: 'sb-9', owner: 'a2' } },
      { principal: { role: 'agent', id: 'a1' }, action: 'create', sandbox: { spec: { mounts: [{ hostPath: '/srv/work/p', sandboxPath: '/p' }] } } },
      { principal: { role: 'agent', id: 'a1' }, action: 'create', sandbox: { spec: { mounts: [{ hostPath: '/etc', sandboxPath: '/x' }] } } },
    ]),
  );
  const r = await runCli(['policy', 'check', bundle, '--request', requests], { config: configFile });
  assert.equal(r.code, 0, r.stderr);
  const blocks = r.stdout.split('\n').filter((l) => !l.startsWith(' ') && l !== '').slice(1);
  assert.deepEqual(blocks, [
    'agent a1 create sandbox new: allow',
    'agent a1 create sandbox new: approval',
    'agent a1 kill sandbox sb-9: deny',
    'agent a1 create sandbox new: allow', // read-only, below the configured root
    'agent a1 create sandbox new: deny', // outside the configured roots
  ]);
  assert.match(r.stdout, /approval\n {2}policies: agent-configure-with-approval\n/);
  assert.match(r.stdout, /deny\n {2}policies: host-grants-within-roots\n {2}reason: a host path may be granted only below a configured host root\n/);
});

test('policy check --request refuses a malformed request file, naming every bad field', async (t) => {
  const { configFile, bundle, dir } = await workspace(t);
  const requests = join(dir, 'requests.json');
  await writeFile(requests, JSON.stringify({ principal: { role: 'root', id: 'x' }, action: 'launch', sandbx: {} }));
  const r = await runCli(['policy', 'check', bundle, '--request', requests], { config: configFile });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /request file .*requests\.json:/);
  assert.match(r.stderr, /principal\.role/);
  assert.match(r.stderr, /action/);
  assert.match(r.stderr, /sandbx/);
});
