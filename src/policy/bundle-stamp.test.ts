import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyEngine } from './engine.ts';
import { SHIPPED_POLICY_DIR, readBundleFiles } from './bundle-files.ts';
import { PolicyBundleError } from './bundle-error.ts';
import { stampKey } from './bundle-stamp.ts';
import { DEFAULT_TEST_SPEC } from './test-spec.ts';

const root = process.geteuid?.() === 0;
const skip = root ? false : 'stamps are read and written by root only';

async function workspace(t: { after: (fn: () => Promise<void>) => void }) {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-stamp-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const bundle = join(dir, 'policies');
  await cp(SHIPPED_POLICY_DIR, bundle, { recursive: true });
  return { bundle, stamps: join(dir, 'stamps') };
}

const operatorRun = {
  principal: { role: 'operator' as const, id: 'root', groups: [] },
  action: 'execute' as const,
  sandbox: { id: 'new', owner: 'root', spec: DEFAULT_TEST_SPEC },
  request: DEFAULT_TEST_SPEC,
  settings: { defaultImage: 'default', hostRoots: [] },
};

test('a checked bundle is stamped privately, and the stamped engine decides as the checked one', { skip }, async (t) => {
  const { bundle, stamps } = await workspace(t);
  const checked = await PolicyEngine.load(bundle, { stampDir: stamps });
  const names = await readdir(stamps);
  assert.deepEqual(names, [`${await stampKey(await readBundleFiles(bundle))}.json`]);
  assert.equal((await stat(stamps)).mode & 0o777, 0o700);
  assert.equal((await stat(join(stamps, names[0] as string))).mode & 0o777, 0o600);
  const stamped = await PolicyEngine.load(bundle, { stampDir: stamps });
  assert.equal(stamped.hash, checked.hash);
  assert.deepEqual(stamped.policies, checked.policies);
  assert.deepEqual(stamped.evaluate(operatorRun), checked.evaluate(operatorRun));
  assert.equal(stamped.evaluate(operatorRun).decision, 'allow');
});

test('a changed bundle is checked again: a bad file is refused even where the old one was stamped', { skip }, async (t) => {
  const { bundle, stamps } = await workspace(t);
  await PolicyEngine.load(bundle, { stampDir: stamps });
  await writeFile(join(bundle, 'bad.cedar'), '@id("bad")\npermit (principal, action, resource) when { context.nope };\n');
  await assert.rejects(PolicyEngine.load(bundle, { stampDir: stamps }), PolicyBundleError);
});

test('a stamp is used only from a private directory: one others can write is ignored', { skip }, async (t) => {
  const { bundle, stamps } = await workspace(t);
  await PolicyEngine.load(bundle, { stampDir: stamps });
  const [name] = await readdir(stamps);
  const path = join(stamps, name as string);
  // A stamp whose reason text differs shows which one the engine used.
  const planted = JSON.parse(await readFile(path, 'utf8')) as { policies: { reason: string | null }[] };
  for (const p of planted.policies) p.reason = 'planted';
  await writeFile(path, JSON.stringify(planted));
  assert.ok((await PolicyEngine.load(bundle, { stampDir: stamps })).policies.every((p) => p.reason === 'planted'));
  await chmod(stamps, 0o770);
  assert.ok((await PolicyEngine.load(bundle, { stampDir: stamps })).policies.every((p) => p.reason !== 'planted'));
  await chmod(stamps, 0o700);
  await chmod(path, 0o644);
  assert.ok((await PolicyEngine.load(bundle, { stampDir: stamps })).policies.every((p) => p.reason !== 'planted'));
});

test('a malformed stamp is ignored and the bundle checked in full', { skip }, async (t) => {
  const { bundle, stamps } = await workspace(t);
  const checked = await PolicyEngine.load(bundle, { stampDir: stamps });
  const [name] = await readdir(stamps);
  const path = join(stamps, name as string);
  const good = JSON.parse(await readFile(path, 'utf8')) as { policies: Record<string, unknown>[] };
  const wrongShapes = [
    '{"key": "x"',
    JSON.stringify({ ...good, policies: [] }),
    JSON.stringify({ ...good, policies: good.policies.map((p) => ({ ...p, needsApproval: 'no' })) }),
    JSON.stringify({ ...good, policies: good.policies.map((p) => ({ ...p, extra: 1 })) }),
    JSON.stringify({ ...good, key: 'another bundle' }),
  ];
  for (const text of wrongShapes) {
    await writeFile(path, text);
    const loaded = await PolicyEngine.load(bundle, { stampDir: stamps });
    assert.deepEqual(loaded.policies, checked.policies, text.slice(0, 60));
    // Checked in full, then stamped afresh: the stamp is whole again.
    assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), good);
  }
});

test('remembered decisions: the same call is answered from the memo, which is trusted only when private', { skip }, async (t) => {
  const { bundle, stamps } = await workspace(t);
  const checked = await PolicyEngine.load(bundle, { stampDir: stamps });
  const expected = checked.evaluate(operatorRun);
  // The first remembering engine evaluates with Cedar and writes the memo.
  const first = await PolicyEngine.load(bundle, { stampDir: stamps, rememberDecisions: true });
  assert.deepEqual(first.evaluate(operatorRun), expected);
  const key = await stampKey(await readBundleFiles(bundle));
  const memoPath = join(stamps, `${key}.decisions.json`);
  assert.equal((await stat(memoPath)).mode & 0o777, 0o600);
  const memo = JSON.parse(await readFile(memoPath, 'utf8')) as [string, { response: { decision: string; diagnostics: { reason: string[] } } }][];
  assert.equal(memo.length, 1);
  assert.deepEqual((await PolicyEngine.load(bundle, { stampDir: stamps, rememberDecisions: true })).evaluate(operatorRun), expected);
  // An answer planted in the memo shows that the next engine answers from it...
  for (const [, answer] of memo) {
    answer.response.decision = 'deny';
    answer.response.diagnostics.reason = [];
  }
  await writeFile(memoPath, JSON.stringify(memo));
  assert.equal((await PolicyEngine.load(bundle, { stampDir: stamps, rememberDecisions: true })).evaluate(operatorRun).decision, 'deny');
  // ...and only while the memo is root's and private.
  await chmod(memoPath, 0o640);
  assert.deepEqual((await PolicyEngine.load(bundle, { stampDir: stamps, rememberDecisions: true })).evaluate(operatorRun), expected);
  // A memo with one malformed entry is not used at all.
  await writeFile(memoPath, JSON.stringify([...memo, ['{}', { type: 'success' }]]), { mode: 0o600 });
  await chmod(memoPath, 0o600);
  assert.deepEqual((await PolicyEngine.load(bundle, { stampDir: stamps, rememberDecisions: true })).evaluate(operatorRun), expected);
});

test('a memo belongs to one bundle: a changed bundle decides afresh', { skip }, async (t) => {
  const { bundle, stamps } = await workspace(t);
  await PolicyEngine.load(bundle, { stampDir: stamps });
  assert.equal((await PolicyEngine.load(bundle, { stampDir: stamps, rememberDecisions: true })).evaluate(operatorRun).decision, 'allow');
  await writeFile(join(bundle, 'local.cedar'), '@id("no-runs")\n@reason("no runs here")\nforbid (principal, action == Airlock::Action::"execute", resource);\n');
  const changed = await PolicyEngine.load(bundle, { stampDir: stamps, rememberDecisions: true });
  assert.deepEqual(changed.evaluate(operatorRun).policyIds, ['no-runs']);
});
