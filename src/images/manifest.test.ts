import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile, appendFile, link } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestOf, isDigest, manifestTree, parseManifest, serializeManifest } from './manifest.ts';
import { diffManifests, checkTreePolicy } from './verify.ts';

async function tree(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'airlock-manifest-'));
  await mkdir(join(root, 'usr/bin'), { recursive: true });
  await writeFile(join(root, 'usr/bin/tool'), 'hello\n');
  await chmod(join(root, 'usr/bin/tool'), 0o755);
  await writeFile(join(root, 'usr/data'), Buffer.alloc(300_000, 7));
  await symlink('usr/bin', join(root, 'bin'));
  return root;
}

test('manifest is deterministic and canonical', async (t) => {
  const a = await tree();
  const b = await tree();
  t.after(() => Promise.all([rm(a, { recursive: true }), rm(b, { recursive: true })]));
  const ma = await manifestTree(a);
  const mb = await manifestTree(b, { concurrency: 1 });
  assert.ok(isDigest(ma.digest));
  assert.equal(ma.digest, mb.digest);
  assert.equal(ma.digest, digestOf(ma.bytes));
  assert.deepEqual(
    ma.entries.map((e) => e.path),
    ['.', 'bin', 'usr', 'usr/bin', 'usr/bin/tool', 'usr/data'],
  );
  assert.equal(ma.files, 2);
  assert.equal(ma.totalBytes, 300_006);
  // The stored form parses back to the same entries and re-serializes byte for byte.
  assert.deepEqual(parseManifest(ma.bytes), ma.entries);
  assert.ok(serializeManifest([...ma.entries].reverse()).equals(ma.bytes));
  JSON.parse(ma.bytes.toString('utf8'));
});

test('any change changes the digest: byte, mode, added file, symlink retarget', async (t) => {
  const root = await tree();
  t.after(() => rm(root, { recursive: true }));
  const base = await manifestTree(root);
  const seen = new Set([base.digest]);
  const expectChange = async (what: string, pattern: RegExp): Promise<void> => {
    const m = await manifestTree(root);
    assert.ok(!seen.has(m.digest), `${what} must change the digest`);
    seen.add(m.digest);
    const diff = diffManifests(base.entries, m.entries);
    assert.ok(diff.some((d) => pattern.test(d)), `${what}: ${diff.join('; ')}`);
  };
  // Same size, one byte different.
  await writeFile(join(root, 'usr/bin/tool'), 'hellO\n');
  await expectChange('a changed byte', /^usr\/bin\/tool: content changed$/);
  await chmod(join(root, 'usr/data'), 0o600);
  await expectChange('a changed mode', /^usr\/data: mode 644 -> 600/);
  await writeFile(join(root, 'usr/extra'), '');
  await expectChange('an added file', /^usr\/extra: added$/);
  await rm(join(root, 'bin'));
  await symlink('/usr/bin', join(root, 'bin'));
  await expectChange('a symlink retarget', /^bin: target usr\/bin -> \/usr\/bin$/);
  await appendFile(join(root, 'usr/data'), 'x');
  await expectChange('an appended byte', /^usr\/data: .*size 300000 -> 300001/);
});

test('hard links are hashed once and recorded as separate files', async (t) => {
  const root = await tree();
  t.after(() => rm(root, { recursive: true }));
  await link(join(root, 'usr/data'), join(root, 'usr/data2'));
  const m = await manifestTree(root);
  const [a, b] = m.entries.filter((e) => e.path.startsWith('usr/data'));
  assert.equal(a?.sha256, b?.sha256);
  assert.equal(m.files, 3);
});

test('parseManifest refuses non-canonical or malformed manifests', async (t) => {
  const root = await tree();
  t.after(() => rm(root, { recursive: true }));
  const m = await manifestTree(root);
  const text = m.bytes.toString('utf8');
  assert.throws(() => parseManifest(Buffer.from(text.replace('"mode":493', '"mode":"493"'))), /malformed/);
  assert.throws(() => parseManifest(Buffer.from(text.replace('{"path":"."', '{"extra":1,"path":"."'))), /canonical/);
  assert.throws(() => parseManifest(Buffer.from(text.replace('\n]}', ' \n]}'))), /canonical/);
  assert.throws(() => parseManifest(Buffer.from('{"entries":[]}')), /not an airlock image manifest/);
});

test('checkTreePolicy flags setuid, group/world write and non-root owners', () => {
  const base = { type: 'file' as const, uid: 0, gid: 0, size: 0, sha256: '0'.repeat(64) };
  const problems = checkTreePolicy([
    { ...base, path: 'ok', mode: 0o755 },
    { ...base, path: 'suid', mode: 0o4755 },
    { ...base, path: 'ww', mode: 0o666 },
    { ...base, path: 'owned', mode: 0o644, uid: 42 },
    { path: 'link', type: 'symlink', mode: 0o777, uid: 0, gid: 0, size: 0, target: 'ok' },
  ]);
  assert.deepEqual(
    problems.map((p) => p.split(':')[0]),
    ['suid', 'ww', 'owned'],
  );
});
