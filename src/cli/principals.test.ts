import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { openStore, type Principal } from '../store/index.ts';
import { parseConfig } from '../config/config.ts';
import { runCli } from './test-cli.ts';

/** A state directory with its config file, and an `airlock --config …` runner for it. */
async function setup(t: TestContext) {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-cli-principals-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, 'config.json');
  await writeFile(config, JSON.stringify({ stateDir: join(dir, 'state') }));
  const airlock = (...args: string[]) => runCli(args, { config });
  const newKey = async (name: string) => {
    const prefix = join(dir, name);
    const gen = await runCli(['keys', 'gen', '--out', prefix]);
    assert.equal(gen.code, 0, gen.stderr);
    return { prefix, pub: `${prefix}.pub`, id: gen.stdout.trim() };
  };
  const list = async (): Promise<Principal[]> => {
    const ls = await airlock('principals', 'ls', '--json');
    assert.equal(ls.code, 0, ls.stderr);
    return JSON.parse(ls.stdout) as Principal[];
  };
  return { dir, airlock, newKey, list };
}

test('principals add, ls, show and add-key with keys made by airlock keys gen', async (t) => {
  const { dir, airlock, newKey, list } = await setup(t);
  const key = await newKey('agent');
  const add = await airlock('principals', 'add', 'ci-agent', '--role', 'agent', '--agent-id', 'team-7', '--group', 'builders', '--group', 'ci', '--key', key.pub);
  assert.equal(add.code, 0, add.stderr);
  assert.equal(add.stdout, `added agent ci-agent with key ${key.id}\n`);

  const [principal, ...rest] = await list();
  assert.equal(rest.length, 0);
  assert.equal(principal?.name, 'ci-agent');
  assert.equal(principal?.role, 'agent');
  assert.equal(principal?.agentId, 'team-7');
  assert.deepEqual(principal?.groups, ['builders', 'ci']);
  assert.deepEqual(principal?.keys.map((k) => [k.keyId, k.revokedAt]), [[key.id, null]]);

  const table = await airlock('principals', 'ls');
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^NAME\s+ROLE\s+AGENT ID\s+GROUPS\s+ACTIVE KEYS\nci-agent\s+agent\s+team-7\s+builders,ci\s+1\/1\n$/);

  const second = await newKey('agent-2');
  const addKey = await airlock('principals', 'add-key', 'ci-agent', '--key', second.pub);
  assert.equal(addKey.code, 0, addKey.stderr);
  const show = await airlock('principals', 'show', 'ci-agent');
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /role:\s+agent/);
  assert.match(show.stdout, new RegExp(`${key.id}\\s+\\S+\\s+active`));
  assert.match(show.stdout, new RegExp(`${second.id}\\s+\\S+\\s+active`));

  // The server side sees the same store: both keys verify as ci-agent.
  const store = await openStore(parseConfig({ stateDir: join(dir, 'state') }));
  t.after(() => store.close());
  assert.equal((await store.lookupActiveKey(key.id))?.principal.agentId, 'team-7');
  assert.equal((await store.lookupActiveKey(second.id))?.principal.name, 'ci-agent');
});

test('principals revoke-key: the key is never looked up again, and revoking it twice is refused', async (t) => {
  const { dir, airlock, newKey } = await setup(t);
  const key = await newKey('op');
  assert.equal((await airlock('principals', 'add', 'alice', '--role', 'operator', '--key', key.pub)).code, 0);
  const revoke = await airlock('principals', 'revoke-key', key.id);
  assert.equal(revoke.code, 0, revoke.stderr);
  assert.equal(revoke.stdout, `revoked key ${key.id} of alice\n`);
  const show = await airlock('principals', 'show', 'alice', '--json');
  assert.notEqual((JSON.parse(show.stdout) as Principal).keys[0]?.revokedAt, null);
  const store = await openStore(parseConfig({ stateDir: join(dir, 'state') }));
  t.after(() => store.close());
  assert.equal(await store.lookupActiveKey(key.id), undefined);

  const again = await airlock('principals', 'revoke-key', key.id);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already revoked/);
  // Nor can the revoked key come back through add or add-key.
  const readd = await airlock('principals', 'add-key', 'alice', '--key', key.pub);
  assert.equal(readd.code, 2);
  assert.match(readd.stderr, /already registered \(to alice, revoked\)/);
});

test('bad input exits 2 with a clear message and changes nothing', async (t) => {
  const { dir, airlock, newKey, list } = await setup(t);
  const key = await newKey('first');
  assert.equal((await airlock('principals', 'add', 'bob', '--role', 'agent', '--key', key.pub)).code, 0);
  const before = await list();
  const other = await newKey('other');
  const rsaPem = join(dir, 'rsa.pub');
  const { generateKeyPairSync } = await import('node:crypto');
  await writeFile(rsaPem, generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }));

  const cases: [string[], RegExp][] = [
    [['add', 'bob', '--role', 'agent', '--key', other.pub], /principal bob already exists/],
    [['add', 'carol', '--role', 'agent', '--group', 'g', '--key', key.pub], new RegExp(`key ${key.id} is already registered \\(to bob\\)`)],
    [['add', 'carol', '--role', 'admin', '--key', other.pub], /role "admin" is not one of agent, operator, approver/],
    [['add', 'carol', '--role', 'agent', '--key', other.prefix], /holds a private key, not a public key/],
    [['add', 'carol', '--role', 'agent', '--key', rsaPem], /not an Ed25519 public key/],
    [['add', 'carol', '--role', 'agent', '--key', join(dir, 'missing.pub')], /cannot read key file .*missing\.pub: ENOENT/],
    [['add', 'carol', '--role', 'agent', '--group', 'a b', '--key', other.pub], /group "a b" is not valid/],
    [['add', 'carol', '--role', 'agent'], /--key <file>/],
    [['add-key', 'nobody', '--key', other.pub], /no principal named nobody/],
    [['show', 'nobody'], /no principal named nobody/],
    [['revoke-key', other.id], new RegExp(`no key with id ${other.id}`)],
    // A key id may begin with '-': it is looked up, not taken for an option.
    [['revoke-key', '-Mq0AbC'], /no key with id -Mq0AbC/],
  ];
  for (const [args, message] of cases) {
    const result = await airlock('principals', ...args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message, args.join(' '));
    assert.equal(result.stdout, '', args.join(' '));
  }
  assert.deepEqual(await list(), before);
});

test('a name carrying terminal control sequences is refused and echoed escaped', async (t) => {
  const { airlock, newKey, list } = await setup(t);
  const key = await newKey('k');
  const result = await airlock('principals', 'add', 'evil\u001b]52;c;aGk=\u0007', '--role', 'agent', '--key', key.pub);
  assert.equal(result.code, 2);
  assert.ok(!result.stderr.includes('\u001b') && !result.stderr.includes('\u0007'), 'no raw control character reaches the terminal');
  assert.match(result.stderr, /principal name "evil\\u001b\]52;c;aGk=\\u0007" is not valid/);
  assert.deepEqual(await list(), []);
});
