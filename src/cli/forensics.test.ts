/**
 * `airlock forensics verify`: exit 0 on an intact bundle; 1 naming an edited, added or removed
 * entry or a bundle signed by another key; 2 for a missing bundle or key file. `forensics capture`
 * with a malformed id or no server: a clear refusal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { buildBundle } from '../forensics/bundle.ts';
import { loadPrivateKeyFile, writeNewKeyPair } from '../signing/key-files.ts';
import { runCli } from './test-cli.ts';

test('forensics verify: intact, each kind of tampering, another key, missing files', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-forensics-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const keys = await writeNewKeyPair(join(dir, 'controller.key'));
  const other = await writeNewKeyPair(join(dir, 'other.key'));
  const entries = new Map([['sandbox.json', Buffer.from('{"id":"sb-1"}\n')], ['processes/host.json', Buffer.from('[]\n')]]);
  const zip = buildBundle('sb-1', entries, await loadPrivateKeyFile(keys.privateKeyPath));
  const write = async (name: string, bytes: Uint8Array): Promise<string> => {
    await writeFile(join(dir, name), bytes);
    return join(dir, name);
  };
  const altered = (change: (f: Record<string, Uint8Array>) => void): Uint8Array => {
    const f = unzipSync(zip);
    change(f);
    return zipSync(f);
  };

  const ok = await runCli(['forensics', 'verify', await write('ok.zip', zip), '--key', keys.publicKeyPath]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /ok: bundle of sandbox sb-1/);
  const json = await runCli(['forensics', 'verify', join(dir, 'ok.zip'), '--key', keys.publicKeyPath, '--json']);
  assert.equal((JSON.parse(json.stdout) as { ok: boolean }).ok, true);

  const cases: [string, Uint8Array, RegExp][] = [
    ['edited.zip', altered((f) => void (f['sandbox.json'] = Buffer.from('{}'))), /sandbox\.json: changed/],
    ['added.zip', altered((f) => void (f['extra'] = Buffer.from('x'))), /extra: added/],
    ['removed.zip', altered((f) => delete f['processes/host.json']), /processes\/host\.json: removed/],
  ];
  for (const [name, bytes, expected] of cases) {
    const run = await runCli(['forensics', 'verify', await write(name, bytes), '--key', keys.publicKeyPath]);
    assert.equal(run.code, 1, name);
    assert.match(run.stderr, expected);
  }
  const wrongKey = await runCli(['forensics', 'verify', join(dir, 'ok.zip'), '--key', other.publicKeyPath]);
  assert.equal(wrongKey.code, 1);
  assert.match(wrongKey.stderr, /not signed by this controller key/);

  const missing = await runCli(['forensics', 'verify', join(dir, 'nope.zip'), '--key', keys.publicKeyPath]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read bundle .*nope\.zip: ENOENT/);
  const noKey = await runCli(['forensics', 'verify', join(dir, 'ok.zip'), '--key', join(dir, 'none.pub')]);
  assert.equal(noKey.code, 2);
  assert.match(noKey.stderr, /--key/);
});

test('forensics capture: a missing argument is a usage error; an unreachable server is named', async () => {
  const usage = await runCli(['forensics', 'capture']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /missing required argument 'sandbox'/);
  const down = await runCli(['forensics', 'capture', 'sb-1', '--url', 'http://127.0.0.1:9']);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /127\.0\.0\.1:9/);
});
