import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyEngine } from './engine.ts';
import { PolicyBundleError } from './bundle-error.ts';
import { SHIPPED_POLICY_DIR, bundleHash, readBundleFiles } from './bundle-files.ts';
import { lineColumnAt } from './source-location.ts';

async function copyOfShipped(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-policy-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await cp(SHIPPED_POLICY_DIR, dir, { recursive: true });
  return dir;
}

async function bundleError(dir: string): Promise<PolicyBundleError> {
  try {
    await PolicyEngine.load(dir);
  } catch (err) {
    assert.ok(err instanceof PolicyBundleError, String(err));
    return err;
  }
  assert.fail('the bundle was accepted');
}

const EXTRA_HEADER = '// extra\n\n';

test('a policy using an attribute the schema lacks is refused, naming the file, line and column', async (t) => {
  const dir = await copyOfShipped(t);
  await writeFile(join(dir, 'extra.cedar'), `${EXTRA_HEADER}@id("typo")\npermit (principal is Airlock::Agent, action, resource is Airlock::Sandbox)\nwhen { resource.ownr == principal.agentId };\n`);
  const err = await bundleError(dir);
  assert.equal(err.issues.length, 1);
  assert.deepEqual({ file: err.issues[0]?.file, line: err.issues[0]?.line, column: err.issues[0]?.column }, { file: 'extra.cedar', line: 5, column: 8 });
  assert.match(err.message, /extra\.cedar:5:8: .*ownr.*did you mean `owner`/);
});

test('a syntax error is refused with its line; every bad file is listed, not just the first', async (t) => {
  const dir = await copyOfShipped(t);
  await writeFile(join(dir, 'extra.cedar'), `${EXTRA_HEADER}@id("broken")\npermit (principal, action, resource)\nwhen { 1 + };\n`);
  await writeFile(join(dir, 'other.cedar'), '@id("bad-action")\npermit (principal, action == Airlock::Action::"launch", resource);\n');
  const err = await bundleError(dir);
  assert.deepEqual(err.issues.map((i) => `${i.file}:${i.line}`), ['extra.cedar:5', 'other.cedar:2']);
});

test('a policy without @id, a duplicate @id and a misused @approval are refused', async (t) => {
  const dir = await copyOfShipped(t);
  await writeFile(
    join(dir, 'extra.cedar'),
    [
      'permit (principal is Airlock::Operator, action, resource);',
      '',
      '@id("operator-all")',
      'permit (principal is Airlock::Operator, action, resource);',
      '',
      '@id("forbid-approval")',
      '@approval("required")',
      'forbid (principal, action, resource);',
      '',
    ].join('\n'),
  );
  const err = await bundleError(dir);
  const messages = err.issues.map((i) => `${i.file}:${i.line}: ${i.message}`).sort();
  assert.equal(messages.length, 3, messages.join('\n'));
  assert.match(messages[0] ?? '', /^extra\.cedar:1: policy has no @id/);
  assert.match(messages[1] ?? '', /^extra\.cedar:6: @approval\("required"\) belongs on permit policies only/);
  // Files are read in name order: extra.cedar comes first, so the shipped policy is the duplicate.
  assert.match(messages[2] ?? '', /^operators\.cedar:4: duplicate @id\("operator-all"\), first used at extra\.cedar:3/);
});

test('a schema error is refused with its line', async (t) => {
  const dir = await copyOfShipped(t);
  const schema = await readFile(join(dir, 'airlock.cedarschema'), 'utf8');
  await writeFile(join(dir, 'airlock.cedarschema'), schema.replace('owner: String', 'owner: Strng'));
  const err = await bundleError(dir);
  const line = schema.split('\n').findIndex((l) => l.includes('owner: String')) + 1;
  assert.equal(err.issues[0]?.file, 'airlock.cedarschema');
  assert.equal(err.issues[0]?.line, line);
  assert.match(err.issues[0]?.message ?? '', /Strng/);
});

test('a bundle needs exactly one schema and at least one policy file', async (t) => {
  const dir = await copyOfShipped(t);
  await rename(join(dir, 'airlock.cedarschema'), join(dir, 'airlock.txt'));
  assert.match((await bundleError(dir)).message, /expected exactly one \*\.cedarschema file, found none/);
  const empty = await mkdtemp(join(tmpdir(), 'airlock-policy-'));
  t.after(() => rm(empty, { recursive: true, force: true }));
  await cp(join(dir, 'airlock.txt'), join(empty, 'airlock.cedarschema'));
  assert.match((await bundleError(empty)).message, /no \*\.cedar policy files/);
});

test('the bundle hash covers names and contents of schema and policies only', async (t) => {
  const dir = await copyOfShipped(t);
  const files = await readBundleFiles(dir);
  const hash = bundleHash(files);
  assert.equal(hash, bundleHash([...files].reverse()), 'order of reading does not matter');
  assert.equal((await PolicyEngine.load(dir)).hash, hash);
  await writeFile(join(dir, 'README.md'), 'changed');
  assert.equal(bundleHash(await readBundleFiles(dir)), hash, 'documentation is not policy');
  const renamed = files.map((f) => (f.name === 'guards.cedar' ? { ...f, name: 'guards2.cedar' } : f));
  assert.notEqual(bundleHash(renamed), hash);
  const edited = files.map((f) => (f.name === 'guards.cedar' ? { ...f, text: `${f.text} ` } : f));
  assert.notEqual(bundleHash(edited), hash);
  // A file boundary moved between two files is a different bundle.
  assert.notEqual(bundleHash([{ name: 'a.cedar', text: 'xy' }, { name: 'b.cedar', text: '' }]), bundleHash([{ name: 'a.cedar', text: 'x' }, { name: 'b.cedar', text: 'y' }]));
});

test('source offsets count UTF-8 bytes', () => {
  assert.deepEqual(lineColumnAt('ab\ncd', 4), { line: 2, column: 2 });
  assert.deepEqual(lineColumnAt('// é\nx', Buffer.byteLength('// é\n')), { line: 2, column: 1 });
});

test('only @approval policies may read context.approved, so one evaluation tells allow from approval', async (t) => {
  const dir = await copyOfShipped(t);
  await writeFile(
    join(dir, 'extra.cedar'),
    [
      '@id("sneaky-forbid")',
      'forbid (principal, action, resource) unless { context.approved };',
      '@id("sneaky-has")',
      'permit (principal, action, resource) when { context has approved };',
      '@id("whole-context")',
      'permit (principal, action == Airlock::Action::"admin", resource) when { context == { approved: true } };',
      '@id("reads-other-context")',
      'permit (principal is Airlock::Approver, action == Airlock::Action::"approve", resource) when { context.request.image == "default" };',
      '',
    ].join('\n'),
  );
  const err = await bundleError(dir);
  assert.deepEqual(
    err.issues.map((i) => `${i.file}:${i.line}`),
    ['extra.cedar:1', 'extra.cedar:3', 'extra.cedar:5'],
    err.message,
  );
  assert.match(err.message, /only policies marked @approval\("required"\) may read context\.approved/);
});

test("a schema in Cedar's JSON form is accepted and decides the same", async (t) => {
  const dir = await copyOfShipped(t);
  const { loadCedar } = await import('./cedar.ts');
  const cedar = await loadCedar();
  const json = cedar.schemaToJson(await readFile(join(dir, 'airlock.cedarschema'), 'utf8'));
  assert.equal(json.type, 'success');
  await rm(join(dir, 'airlock.cedarschema'));
  await writeFile(join(dir, 'airlock.cedarschema.json'), JSON.stringify(json.type === 'success' ? json.json : null));
  const engine = await PolicyEngine.load(dir);
  assert.equal(engine.policies.length, 15);
  const spec = {
    runtime: 'namespace',
    image: 'default',
    network: { mode: 'full' as const, allowedHosts: [] },
    mounts: [],
    limits: { memoryMb: 512, cpuCores: 0.5, pids: 256, timeoutSeconds: 300, scratchMb: 64, outputBytes: 1024, openFiles: 1024 },
  };
  const decision = engine.evaluate({ principal: { role: 'agent', id: 'a' }, action: 'create', sandbox: { id: 'n', owner: 'a', spec }, settings: { defaultImage: 'default', hostRoots: [] } });
  assert.deepEqual([decision.decision, decision.policyIds], ['approval', ['agent-configure-with-approval']]);
  await writeFile(join(dir, 'airlock.cedarschema.json'), '{"Airlock": ');
  assert.match((await bundleError(dir)).message, /airlock\.cedarschema\.json: not valid JSON/);
});
