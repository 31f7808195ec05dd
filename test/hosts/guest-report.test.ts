/** The in-guest suite's script, reporter and report reading, without booting anything. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { guestSuiteScript, readGuestReport } from './guest-suite.ts';

const run = promisify(execFile);
// Why: a test run inside a test would otherwise report to this one (NODE_TEST_CONTEXT) instead of printing.
const childEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_TEST_CONTEXT'));
const reporter = fileURLToPath(new URL('./guest-reporter.ts', import.meta.url));

test('the script runs the listed files with both reporters and the knobs exported', () => {
  const script = guestSuiteScript(['test/a.test.ts', "test/it's.test.ts"], { slowness: 8, leftoversCount: 25, nodeOptions: '--liftoff-only' });
  assert.match(script, /^export TMPDIR=\/var\/lib\/airlock\/tmp$/m);
  assert.match(script, /AIRLOCK_TEST_SLOWNESS=8 AIRLOCK_TEST_LEFTOVERS_COUNT=25/);
  assert.match(script, /^export NODE_OPTIONS='--liftoff-only'$/m);
  assert.match(script, /--test-reporter=spec --test-reporter-destination=stdout/);
  assert.match(script, /--test-timeout=900000 /, 'a hung test fails alone instead of holding the guest');
  assert.match(script, /while sleep 60; .*ps -eo .*--forest/, 'a watchdog prints the processes of a guest where no test finishes');
  assert.match(script, /--test-reporter-destination=\/job\/report\.jsonl 'test\/a\.test\.ts' 'test\/it'\\''s\.test\.ts'$/m);
  assert.doesNotMatch(guestSuiteScript([], { slowness: 1, leftoversCount: 1, nodeOptions: '' }), /NODE_OPTIONS/);
});

test('the reporter writes one line per test: failures with their message, skips and todos with their reason, a dead file with its stderr', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-guest-report-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(
    join(dir, 'a.test.ts'),
    `import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
describe('outer', () => {
  test('passes', () => {});
  test('fails', () => assert.equal(1, 2, 'one is not two'));
  test('skipped', { skip: 'not here' }, () => {});
  test('todo', { todo: 'later' }, () => { throw new Error('not yet'); });
});
`,
  );
  // A test made by a helper module is reported under the test file that ran it.
  await writeFile(join(dir, 'helper.ts'), `import { test } from 'node:test';\nexport const viaHelper = (name: string) => test(name, () => {});\n`);
  await writeFile(join(dir, 'c.test.ts'), `import { describe } from 'node:test';\nimport { viaHelper } from './helper.ts';\ndescribe('group', () => viaHelper('made elsewhere'));\n`);
  await writeFile(join(dir, 'b.test.ts'), `console.error('dying loudly'); process.exit(3);\n`);
  const out = await run(process.execPath, ['--test', `--test-reporter=${reporter}`, 'a.test.ts', 'b.test.ts', 'c.test.ts'], { cwd: dir, env: childEnv }).catch((err: { stdout: string }) => err);
  const report = readGuestReport(out.stdout, ['a.test.ts', 'b.test.ts', 'c.test.ts', 'd.test.ts']);
  const byName = new Map(report.tests.map((x) => [x.name, x]));
  assert.deepEqual(report.counts, { pass: 2, fail: 2, skip: 1, todo: 1 });
  assert.equal(byName.get('group > made elsewhere')?.file, 'c.test.ts');
  assert.equal(byName.get('outer > passes')?.file, 'a.test.ts');
  assert.match(byName.get('outer > fails')?.detail ?? '', /AssertionError: one is not two/);
  assert.equal(byName.get('outer > skipped')?.detail, 'not here');
  assert.equal(byName.get('outer > todo')?.outcome, 'todo');
  assert.match(byName.get('b.test.ts')?.detail ?? '', /dying loudly/);
  assert.equal(report.failures.length, 2);
  assert.match(report.failures[0] ?? '', /^a\.test\.ts: outer > fails\n {2}AssertionError: one is not two/);
  assert.deepEqual(report.filesWithoutPass, ['b.test.ts', 'd.test.ts']);
});

test('a report cut off mid-line keeps the lines before it', () => {
  const line = JSON.stringify({ file: 'x.test.ts', name: 'n', outcome: 'pass', detail: '', durationMs: 1 });
  const report = readGuestReport(`${line}\n{"file":"x.te`, ['x.test.ts']);
  assert.equal(report.tests.length, 1);
  assert.deepEqual(report.filesWithoutPass, []);
});
