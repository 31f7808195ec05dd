/** Bundles: round trip, each kind of tampering named, and retention (no sandbox needed). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { buildBundle, MANIFEST_ENTRY, SIGNATURE_ENTRY, verifyBundle } from './bundle.ts';
import { pruneBundles } from './retention.ts';
import { bundleName } from './capture.ts';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const entries = new Map<string, Uint8Array>([
  ['sandbox.json', Buffer.from('{"id":"sb-1"}\n')],
  ['memory/1.dump', Buffer.alloc(4096, 7)],
]);

function rezip(zip: Uint8Array, change: (files: Record<string, Uint8Array>) => void): Uint8Array {
  const files = unzipSync(zip);
  change(files);
  return zipSync(files);
}

test('a bundle verifies against the key that signed it, with every entry listed', () => {
  const check = verifyBundle(buildBundle('sb-1', entries, privateKey), publicKey);
  assert.equal(check.ok, true);
  assert.ok(check.ok && Object.keys(check.manifest.entries).length === 2 && check.manifest.sandbox_id === 'sb-1');
});

test('an edited, an added and a removed entry are each named; so are a bad signature and an edited manifest', () => {
  const zip = buildBundle('sb-1', entries, privateKey);
  const problems = (z: Uint8Array): string[] => {
    const c = verifyBundle(z, publicKey);
    assert.equal(c.ok, false);
    return c.ok ? [] : c.problems;
  };
  assert.deepEqual(problems(rezip(zip, (f) => void (f['sandbox.json'] = Buffer.from('{"id":"sb-2"}\n')))), ['sandbox.json: changed (its SHA-256 differs from the manifest\'s)']);
  assert.deepEqual(problems(rezip(zip, (f) => void (f['extra.txt'] = Buffer.from('x')))), ['extra.txt: added (not in the manifest)']);
  assert.deepEqual(problems(rezip(zip, (f) => delete f['memory/1.dump'])), ['memory/1.dump: removed (listed in the manifest, absent from the bundle)']);
  const other = generateKeyPairSync('ed25519').privateKey;
  const resigned = buildBundle('sb-1', entries, other);
  assert.match(problems(resigned).join('\n'), /not signed by this controller key/);
  // A manifest rewritten to match an edited entry still fails: its signature no longer covers it.
  const forged = rezip(zip, (f) => {
    const m = JSON.parse(Buffer.from(f[MANIFEST_ENTRY] as Uint8Array).toString()) as { entries: Record<string, string> };
    m.entries['sandbox.json'] = '0'.repeat(64);
    f[MANIFEST_ENTRY] = Buffer.from(JSON.stringify(m));
  });
  assert.match(problems(forged).join('\n'), /MANIFEST.sig: the manifest is not signed/);
  assert.deepEqual(problems(rezip(zip, (f) => delete f[SIGNATURE_ENTRY])), ['MANIFEST.sig is missing']);
  assert.match(problems(Buffer.from('not a zip')).join('\n'), /not a readable zip/);
});

test('entry names that would escape a folder are refused when building', () => {
  assert.throws(() => buildBundle('sb', new Map([['../x', Buffer.alloc(1)]]), privateKey), /not allowed/);
  assert.throws(() => buildBundle('sb', new Map([['/abs', Buffer.alloc(1)]]), privateKey), /not allowed/);
});

test('retention keeps the newest maxBundles and drops bundles past maxAgeDays; other files are left alone', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-forensics-retention-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const now = Date.parse('2026-12-06T12:00:00Z');
  const names: string[] = [];
  for (let i = 0; i < 5; i++) {
    const at = new Date(now - (5 - i) * 3_600_000);
    const name = bundleName(`sb-${i}`, at);
    names.push(name);
    await writeFile(join(dir, name), 'z');
    await utimes(join(dir, name), at, at);
  }
  const old = new Date(now - 40 * 86_400_000);
  const oldName = bundleName('sb-old', old);
  await writeFile(join(dir, oldName), 'z');
  await utimes(join(dir, oldName), old, old);
  await writeFile(join(dir, 'notes.txt'), 'keep');
  const removed = await pruneBundles(dir, { maxBundles: 3, maxAgeDays: 30 }, now);
  assert.deepEqual(removed, [oldName, names[0], names[1]]);
  assert.deepEqual((await readdir(dir)).sort(), [...names.slice(2), 'notes.txt'].sort());
});
