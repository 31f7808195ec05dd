import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './test-cli.ts';
import { FileSecretStore } from '../secrets/index.ts';

const VALUE = 'sk-cli-test-0123456789abcdef';

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-cli-secrets-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, 'config.json');
  await writeFile(config, JSON.stringify({ stateDir: join(dir, 'state'), runDir: join(dir, 'run'), secrets: { env: { env_token: 'AIRLOCK_TEST_ENV_TOKEN' } } }));
  return { dir, config, store: new FileSecretStore(join(dir, 'state', 'secrets')) };
}

test('secrets set (stdin, --from-file), ls and rm: the value is stored and never printed', async (t) => {
  const { dir, config, store } = await setup(t);
  const set = await runCli(['secrets', 'set', 'openai_key'], { config, input: `${VALUE}\n` });
  assert.equal(set.code, 0, set.stderr);
  assert.equal((await store.get('openai_key'))?.bytes().toString(), VALUE, 'one trailing newline dropped from stdin');
  const file = join(dir, 'value.bin');
  await writeFile(file, `${VALUE}\n`);
  const fromFile = await runCli(['secrets', 'set', 'file_key', '--from-file', file], { config });
  assert.equal(fromFile.code, 0, fromFile.stderr);
  assert.equal((await store.get('file_key'))?.bytes().toString(), `${VALUE}\n`, 'a file is stored byte for byte');

  const ls = await runCli(['secrets', 'ls'], { config, env: { AIRLOCK_TEST_ENV_TOKEN: 'from-the-environment' } });
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, /^NAME +PROVIDER +UPDATED\nenv_token +env +-\nfile_key +store +\d{4}-/);
  const json = await runCli(['secrets', 'ls', '--json'], { config });
  assert.deepEqual((JSON.parse(json.stdout) as { secrets: { name: string }[] }).secrets.map((s) => s.name), ['env_token', 'file_key', 'openai_key'], 'mapped names are listed, set here or not');
  for (const run of [set, fromFile, ls, json]) {
    assert.ok(!run.stdout.includes(VALUE) && !run.stderr.includes(VALUE), 'the value is never printed');
    assert.ok(!run.stdout.includes('from-the-environment'));
  }
  const onDisk = await readFile(join(dir, 'state', 'secrets', 'values', 'openai_key.json'), 'utf8');
  assert.ok(!onDisk.includes(VALUE));

  const rm1 = await runCli(['secrets', 'rm', 'openai_key'], { config });
  assert.equal(rm1.code, 0, rm1.stderr);
  const rm2 = await runCli(['secrets', 'rm', 'openai_key'], { config });
  assert.equal(rm2.code, 1);
  assert.match(rm2.stderr, /no secret openai_key in the store/);
});

test('secrets: bad names, a value on the command line, short values and missing files are refused', async (t) => {
  const { config, store } = await setup(t);
  for (const name of ['Bad', '../x', 'a b', '-x']) {
    const run = await runCli(['secrets', 'set', name], { config, input: VALUE });
    assert.equal(run.code, 2, `${name}: ${run.stderr}`);
  }
  const extra = await runCli(['secrets', 'set', 'a_key', VALUE], { config, input: VALUE });
  assert.equal(extra.code, 2, 'no value as an argument');
  assert.match(extra.stderr, /too many arguments/);
  assert.ok(!extra.stderr.includes(VALUE), 'the refusal does not echo it');
  const short = await runCli(['secrets', 'set', 'a_key'], { config, input: 'short' });
  assert.equal(short.code, 2);
  assert.match(short.stderr, /at least 8 bytes/);
  const missing = await runCli(['secrets', 'set', 'a_key', '--from-file', '/nonexistent/file'], { config });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--from-file: .*ENOENT/);
  assert.deepEqual(await store.list(), []);
});
