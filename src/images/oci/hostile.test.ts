/**
 * Hostile images: each case is a crafted layout or archive this test assembles, and each must be
 * refused (naming what is wrong) or neutralised, with nothing written outside the staging
 * directory and nothing left in the store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { configSchema } from '../../config/config.ts';
import type { AirlockConfig } from '../../config/config.ts';
import { blobDir, storePaths } from '../paths.ts';
import { listTags } from '../tags.ts';
import { importImage } from './import.ts';
import type { ImportLimits } from './types.ts';
import { dockerArchive, sha256, tarOf, writeOciLayout } from './test-images.ts';
import type { TarEntry } from './test-images.ts';

const skip = process.getuid?.() === 0 ? false : 'needs root (the store is root-owned)';

interface Fixture {
  dir: string;
  config: AirlockConfig;
  /** A directory outside the image, with a sentinel file, that hostile entries aim at. */
  outside: string;
}

async function fixture(t: { after: (fn: () => Promise<void>) => void }): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-oci-hostile-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const outside = join(dir, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'victim'), 'intact');
  return { dir, config: configSchema.parse({ stateDir: join(dir, 'state') }), outside };
}

/** Imports `layers` as an OCI layout and expects a refusal matching `why`; checks nothing leaked. */
async function refused(f: Fixture, layers: TarEntry[][], why: RegExp, limits?: Partial<ImportLimits>): Promise<void> {
  const layout = await mkdtemp(join(f.dir, 'layout-'));
  await writeOciLayout(layout, await Promise.all(layers.map((l) => tarOf(l))));
  await assert.rejects(importImage(layout, { config: f.config, name: 'hostile', ...(limits ? { limits } : {}) }), why);
  await assertNothingLeaked(f);
}

async function assertNothingLeaked(f: Fixture): Promise<void> {
  assert.deepEqual(await readdir(f.outside), ['victim'], 'nothing was written next to the target outside');
  assert.equal(await readFile(join(f.outside, 'victim'), 'utf8'), 'intact', 'the file outside is untouched');
  const paths = storePaths(f.config);
  assert.deepEqual(await readdir(paths.tmp), [], 'the work directory is removed');
  assert.deepEqual(await listTags(paths), [], 'no tag was written');
  assert.deepEqual(await readdir(paths.blobs), [], 'no blob was stored');
  const stray = (await readdir(f.dir)).filter((n) => !['outside', 'state'].includes(n) && !n.startsWith('layout-') && !n.endsWith('.tar'));
  assert.deepEqual(stray, [], 'nothing was written beside the store');
}

const file = (name: string, data = 'x'): TarEntry => ({ header: { name }, data });
const dir = (name: string): TarEntry => ({ header: { name, type: 'directory', mode: 0o755 } });
const symlink = (name: string, linkname: string): TarEntry => ({ header: { name, type: 'symlink', linkname } });
const hardlink = (name: string, linkname: string): TarEntry => ({ header: { name, type: 'link', linkname } });

test('path traversal in entry names is refused: ../ and absolute paths', { skip }, async (t) => {
  const f = await fixture(t);
  await refused(f, [[file('../../../outside/pwned')]], /climbs out with \.\./);
  await refused(f, [[file('a/../../x')]], /climbs out with \.\./);
  await refused(f, [[file(`${f.outside}/pwned`)]], /absolute path/);
});

test('symlinks and hard links out of the root or through a symlinked parent are refused (tar-slip)', { skip }, async (t) => {
  const f = await fixture(t);
  // A relative link that climbs above the image root.
  await refused(f, [[symlink('up', '../../../../../outside')]], /points outside the image root/);
  // The classic: a symlink to a host directory, then a file written through it (same layer, then across layers).
  await refused(f, [[symlink('evil', f.outside), file('evil/pwned')]], /parent \/evil is a symlink/);
  await refused(f, [[symlink('evil', f.outside)], [file('evil/pwned')]], /parent \/evil is a symlink/);
  await refused(f, [[dir('a/'), symlink('a/b', '/'), file('a/b/outside/pwned')]], /parent \/a\/b is a symlink/);
  // Hard links: out of the root, absolute, or to a symlink that leads out.
  await refused(f, [[hardlink('hl', '../../outside/victim')]], /climbs out/);
  await refused(f, [[hardlink('hl', `${f.outside}/victim`)]], /absolute path/);
  await refused(f, [[symlink('s', `${f.outside}/victim`), hardlink('hl', 's')]], /target is not a regular file/);
  await refused(f, [[symlink('d', f.outside), hardlink('hl', 'd/victim')]], /target is not a regular file/);
});

test('whiteouts and opaque markers that reach outside their directory are refused', { skip }, async (t) => {
  const f = await fixture(t);
  await refused(f, [[dir('a/'), file('a/x')], [file('a/.wh..')]], /deletes outside its directory/);
  await refused(f, [[dir('a/')], [file('a/.wh...')]], /deletes outside its directory/);
  await refused(f, [[symlink('lnk', f.outside)], [file('lnk/.wh.victim')]], /parent \/lnk is a symlink/);
  await refused(f, [[symlink('lnk', f.outside)], [file('lnk/.wh..wh..opq')]], /parent \/lnk is a symlink/);
  await refused(f, [[dir('a/')], [file('a/../.wh.victim')]], /climbs out/);
});

test('duplicate entries in one layer are refused', { skip }, async (t) => {
  const f = await fixture(t);
  await refused(f, [[file('etc/passwd', 'first'), file('etc/passwd', 'second')]], /duplicate entry "etc\/passwd"/);
  await refused(f, [[file('a'), file('./a')]], /duplicate entry/);
});

test('absurd sizes and entry counts stop the import as soon as the limit is crossed', { skip }, async (t) => {
  const f = await fixture(t);
  const half = Buffer.alloc(512 * 1024);
  // Files of 512 KiB under a 1.2 MiB limit: the third crosses it, the hundred after it are never read.
  const many = Array.from({ length: 100 }, (_, i) => ({ header: { name: `f${i}` }, data: half }));
  await refused(f, [many], /entry "f2" \(524288 bytes\) crosses the limit of 1258291 unpacked bytes/, { maxUnpackedBytes: 1258291 });
  // A 64 MiB file of zeros (64 KiB gzip'd) under a 1 MiB limit: refused on its header, before any byte is written.
  await refused(f, [[{ header: { name: 'bomb' }, data: Buffer.alloc(64 * 1024 * 1024) }]], /entry "bomb" \(67108864 bytes\) crosses the limit/, { maxUnpackedBytes: 1024 * 1024 });
  await refused(f, [Array.from({ length: 300 }, (_, i) => file(`e${i}`))], /more than 100 entries/, { maxEntries: 100 });
  await refused(f, [[file('a')], [file('b')], [file('c')]], /3 layers; the limit is 2/, { maxLayers: 2 });
});

test('device nodes, fifos, setuid/setgid bits and security.capability xattrs are neutralised', { skip }, async (t) => {
  const f = await fixture(t);
  const layout = join(f.dir, 'layout-neutral');
  await writeOciLayout(layout, [
    await tarOf([
      { header: { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 } },
      { header: { name: 'mem', type: 'character-device', devmajor: 1, devminor: 1 } },
      { header: { name: 'fifo', type: 'fifo' } },
      { header: { name: 'suid', mode: 0o6755 }, data: 'x' },
      { header: { name: 'world', mode: 0o777 }, data: 'x' },
      { header: { name: 'capped', mode: 0o755, pax: { 'SCHILY.xattr.security.capability': '\u0001\u0000\u0000\u0002\u0000\u0020\u0000\u0000' } }, data: 'x' },
    ]),
  ]);
  const result = await importImage(layout, { config: f.config, name: 'neutral' });
  const rootfs = join(blobDir(storePaths(f.config), result.imageDigest), 'rootfs');
  assert.deepEqual((await readdir(rootfs)).filter((n) => ['mem', 'fifo'].includes(n)), [], 'device node and fifo dropped');
  assert.deepEqual(await readdir(join(rootfs, 'dev')), []);
  const modes = execFileSync('stat', ['-c', '%a %n', 'suid', 'world', 'capped'], { cwd: rootfs, encoding: 'utf8' });
  assert.equal(modes, '755 suid\n755 world\n755 capped\n', 'setuid/setgid and group/world write stripped');
  // No xattr tool on a minimal host: python's os.listxattr reads them without following links.
  const xattrs = execFileSync('python3', ['-c', 'import os,sys; print(os.listxattr(sys.argv[1], follow_symlinks=False))', join(rootfs, 'capped')], { encoding: 'utf8' });
  assert.equal(xattrs.trim(), '[]', 'security.capability was not applied');
  assert.ok(result.notes.some((n) => /dropped 3 device nodes and fifos/.test(n)), result.notes.join('; '));
  assert.ok(result.notes.some((n) => /extended attributes/.test(n)));
});

test('a manifest whose digests do not match its blobs is refused, naming the blob', { skip }, async (t) => {
  const f = await fixture(t);
  const layer = await tarOf([file('a')]);
  const lying = await mkdtemp(join(f.dir, 'layout-'));
  await writeOciLayout(lying, [layer, await tarOf([file('b')])], { lieAboutLayer: 1 });
  await assert.rejects(importImage(lying, { config: f.config, name: 'x' }), /layer 2 \(sha256:[0-9a-f]{64}\): cannot open blob/);
  // A blob whose bytes were changed after the manifest was written.
  const tampered = await mkdtemp(join(f.dir, 'layout-'));
  await writeOciLayout(tampered, [layer], { compression: 'none' });
  const blob = join(tampered, 'blobs', 'sha256', sha256(layer).slice(7));
  const bytes = await readFile(blob);
  bytes[600] = 0x41;
  await writeFile(blob, bytes);
  await assert.rejects(importImage(tampered, { config: f.config, name: 'x' }), /layer 1 \(sha256:[0-9a-f]{64}\): digest mismatch/);
  // The config's name binds it in a docker archive; the config's diff ids bind each layer.
  const { archive } = await dockerArchive([layer]);
  const at = archive.indexOf(Buffer.from('"diff_ids"'));
  const forged = Buffer.from(archive);
  forged[at + 20] = forged[at + 20] === 0x61 ? 0x62 : 0x61;
  await writeFile(join(f.dir, 'forged.tar'), forged);
  await assert.rejects(importImage(join(f.dir, 'forged.tar'), { config: f.config, name: 'x' }), /config [0-9a-f]{64}\.json: digest mismatch/);
  const swapped = await dockerArchive([await tarOf([file('a', 'MARKER-DATA')])]);
  const wrongLayer = Buffer.from(swapped.archive);
  wrongLayer[wrongLayer.indexOf(Buffer.from('MARKER-DATA'))] = 0x6d;
  await writeFile(join(f.dir, 'swapped.tar'), wrongLayer);
  await assert.rejects(importImage(join(f.dir, 'swapped.tar'), { config: f.config, name: 'x' }), /layer 1 \(.*layer\.tar\) \(uncompressed\): digest mismatch/);
  // A layer that is not a tar at all is refused naming the layer.
  const garbage = await dockerArchive([Buffer.alloc(1024, 0x41)]);
  await writeFile(join(f.dir, 'garbage.tar'), garbage.archive);
  await assert.rejects(importImage(join(f.dir, 'garbage.tar'), { config: f.config, name: 'x' }), /layer 1 \(.*layer\.tar\): not a valid tar/);
  await assertNothingLeaked(f);
});

test('an interrupted import leaves nothing behind', { skip }, async (t) => {
  const f = await fixture(t);
  const layout = join(f.dir, 'layout-abort');
  await writeOciLayout(layout, [await tarOf([file('a')]), gzipSync(Buffer.alloc(0)).length > 0 ? await tarOf([{ header: { name: 'big' }, data: Buffer.alloc(8 * 1024 * 1024) }]) : Buffer.alloc(0)]);
  const abort = new AbortController();
  await assert.rejects(
    importImage(layout, { config: f.config, name: 'x', signal: abort.signal, onProgress: (p) => (p.layersDone === 1 ? abort.abort() : undefined) }),
    { name: 'AbortError' },
  );
  await assertNothingLeaked(f);
});

/** `tar` with the size field of the header at `offset` set to `size` (checksum recomputed). */
function withHeaderSize(tar: Buffer, offset: number, size: number): Buffer {
  return patchHeader(tar, offset, (h) => h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1'));
}

/** `tar` with the header at `offset` changed by `edit` and its checksum recomputed. */
function patchHeader(tar: Buffer, offset: number, edit: (header: Buffer) => void): Buffer {
  const out = Buffer.from(tar);
  const h = out.subarray(offset, offset + 512);
  edit(h);
  h.fill(' ', 148, 156);
  const sum = h.reduce((n, b) => n + b, 0);
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return out;
}

test('a link, device or directory entry that declares data is refused (parsers disagree on what follows it)', { skip }, async (t) => {
  const f = await fixture(t);
  // Go's archive/tar (containerd, docker) and Python read no data after a symlink whatever its size,
  // so they see the next header, a whiteout that deletes /evil; tar-stream would skip it as the
  // link's data and keep /evil. One layer, two images: refused rather than read either way.
  for (const entry of [symlink('lnk', 'target'), hardlink('hl', 'evil'), { header: { name: 'fifo', type: 'fifo' as const } }, dir('d/')]) {
    const hiding = withHeaderSize(await tarOf([entry, file('.wh.evil', '')]), 0, 512);
    const layout = await mkdtemp(join(f.dir, 'layout-'));
    await writeOciLayout(layout, [await tarOf([file('evil', 'payload')]), hiding]);
    await assert.rejects(importImage(layout, { config: f.config, name: 'hidden' }), /declares 512 bytes of data/);
    await assertNothingLeaked(f);
  }
});

test('a PAX sparse file is refused (GNU tar, Go and Python take its name from GNU.sparse.name)', { skip }, async (t) => {
  const f = await fixture(t);
  // GNU tar, Go's archive/tar and Python list this entry as the whiteout `.wh.evil`; tar-stream
  // names it GNUSparseFile.0/x and would write the sparse map as its content.
  const sparse = { 'GNU.sparse.major': '1', 'GNU.sparse.minor': '0', 'GNU.sparse.name': '.wh.evil', 'GNU.sparse.realsize': '0' };
  await refused(f, [[file('evil', 'payload')], [{ header: { name: 'GNUSparseFile.0/x', pax: sparse }, data: `0\n${'\0'.repeat(510)}` }]], /sparse file/);
  await refused(f, [[{ header: { name: 'x', pax: { 'GNU.sparse.map': '0,0', 'GNU.sparse.size': '0' } }, data: '' }]], /sparse file/);
});

/** One PAX record (`LEN key=value\n`, LEN counting itself). */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = body.length;
  while (`${length}${body}`.length !== length) length = `${length}${body}`.length;
  return `${length}${body}`;
}

test('a PAX global header that renames or resizes entries is refused (readers disagree on what it applies to)', { skip }, async (t) => {
  const f = await fixture(t);
  // GNU tar and Python rename every later entry to `.wh.evil`, Go ignores the record, tar-stream
  // applies it only to entries with a PAX header of their own: three readers, three images.
  for (const [key, value] of [['path', '.wh.evil'], ['linkpath', 'x'], ['size', '0'], ['GNU.sparse.name', '.wh.evil']] as const) {
    const globalFirst = await tarOf([{ header: { name: 'pax_global_header' }, data: paxRecord(key, value) }, { header: { name: 'harmless', pax: { comment: 'c' } }, data: 'x' }, file('plain', 'y')]);
    const layer = patchHeader(globalFirst, 0, (h) => h.write('g', 156, 'latin1'));
    const layout = await mkdtemp(join(f.dir, 'layout-'));
    await writeOciLayout(layout, [await tarOf([file('evil', 'payload')]), layer]);
    await assert.rejects(importImage(layout, { config: f.config, name: 'global' }), new RegExp(`PAX global header sets ${key.replace(/\./g, '\\.')}`));
    await assertNothingLeaked(f);
  }
  // A global comment (what `git archive` writes) changes no entry: accepted.
  const commented = patchHeader(await tarOf([{ header: { name: 'pax_global_header' }, data: paxRecord('comment', 'abc') }, file('plain', 'y')]), 0, (h) => h.write('g', 156, 'latin1'));
  const layout = await mkdtemp(join(f.dir, 'layout-'));
  await writeOciLayout(layout, [commented]);
  const result = await importImage(layout, { config: f.config, name: 'commented' });
  assert.equal(await readFile(join(blobDir(storePaths(f.config), result.imageDigest), 'rootfs', 'plain'), 'utf8'), 'y');
});

test('a file entry named like a directory is refused (old tar readers take it for a directory with no data)', { skip }, async (t) => {
  const f = await fixture(t);
  // Typeflag NUL and a trailing slash: Go's archive/tar and Python read a directory, with no data,
  // so they take the next 512 bytes for a header (a whiteout of /evil); tar-stream reads a file
  // whose content those bytes are.
  const whiteout = (await tarOf([file('.wh.evil', '')])).subarray(0, 512);
  const v7 = patchHeader(await tarOf([{ header: { name: 'hide/' }, data: whiteout }]), 0, (h) => h.writeUInt8(0, 156));
  const layout = await mkdtemp(join(f.dir, 'layout-'));
  await writeOciLayout(layout, [await tarOf([file('evil', 'payload')]), v7]);
  writeFileSync(join(f.dir, 'v7.tar'), v7);
  const python = execFileSync('python3', ['-c', 'import sys,tarfile; print([m.name for m in tarfile.open(sys.argv[1])])', join(f.dir, 'v7.tar')], { encoding: 'utf8' });
  assert.match(python, /'\.wh\.evil'/, 'another reader sees the hidden whiteout');
  await assert.rejects(importImage(layout, { config: f.config, name: 'v7' }), /named like a directory/);
  await assertNothingLeaked(f);
});

test('entries after the end-of-archive marker are refused (other readers stop there)', { skip }, async (t) => {
  const f = await fixture(t);
  // Two tars back to back: Go's archive/tar, GNU tar and Python stop at the first one's two zero
  // blocks and never see the whiteout of /evil; tar-stream reads on past them.
  const appended = Buffer.concat([await tarOf([file('a', 'x')]), await tarOf([file('.wh.evil', '')])]);
  const layout = await mkdtemp(join(f.dir, 'layout-'));
  await writeOciLayout(layout, [await tarOf([file('evil', 'payload')]), appended]);
  await assert.rejects(importImage(layout, { config: f.config, name: 'appended' }), /after the end-of-archive marker/);
  await assertNothingLeaked(f);
  // Zeros after the marker (tar pads to its record size) are no entries: accepted.
  const padded = await mkdtemp(join(f.dir, 'layout-'));
  await writeOciLayout(padded, [Buffer.concat([await tarOf([file('a', 'x')]), Buffer.alloc(10240)])]);
  const result = await importImage(padded, { config: f.config, name: 'padded' });
  assert.equal(await readFile(join(blobDir(storePaths(f.config), result.imageDigest), 'rootfs', 'a'), 'utf8'), 'x');
});

test('an entry named both by a GNU long name and a PAX path is refused (readers pick different ones)', { skip }, async (t) => {
  const f = await fixture(t);
  // Go's archive/tar (and Python, in this order) name the entry by the GNU long name, `.wh.evil`;
  // tar-stream by the PAX path, `harmless`.
  const longName = patchHeader(await tarOf([{ header: { name: '././@LongLink' }, data: '.wh.evil\0' }]), 0, (h) => h.write('L', 156, 'latin1')).subarray(0, 1024);
  const both = Buffer.concat([longName, await tarOf([{ header: { name: 'short', pax: { path: 'harmless' } }, data: '' }])]);
  writeFileSync(join(f.dir, 'both.tar'), both);
  const python = execFileSync('python3', ['-c', 'import sys,tarfile; print([m.name for m in tarfile.open(sys.argv[1])])', join(f.dir, 'both.tar')], { encoding: 'utf8' });
  assert.match(python, /'\.wh\.evil'/, 'another reader takes the GNU long name');
  const layout = await mkdtemp(join(f.dir, 'layout-'));
  await writeOciLayout(layout, [await tarOf([file('evil', 'payload')]), both]);
  await assert.rejects(importImage(layout, { config: f.config, name: 'both' }), /both a GNU long name and a PAX path/);
  await assertNothingLeaked(f);
});

test('a name that is not UTF-8 is refused (tar-stream would fold distinct names into one)', { skip }, async (t) => {
  const f = await fixture(t);
  // Bytes 0xfe and 0xff both decode to U+FFFD: Go keeps `a\xfe` and whites out `a\xff`; tar-stream
  // would delete the file it named `a\uFFFD`.
  const named = async (name: string, byte: number): Promise<Buffer> => patchHeader(await tarOf([file(name, '')]), 0, (h) => h.writeUInt8(byte, name.indexOf('#')));
  const layout = await mkdtemp(join(f.dir, 'layout-'));
  await writeOciLayout(layout, [await named('a#', 0xfe), await named('.wh.a#', 0xff)]);
  await assert.rejects(importImage(layout, { config: f.config, name: 'latin' }), /not valid UTF-8/);
  await assertNothingLeaked(f);
});

/** A tar of the files of the OCI layout in `dir` (as docker 25 writes beside its manifest.json). */
async function layoutEntries(dir: string): Promise<TarEntry[]> {
  const names = ['oci-layout', 'index.json', ...(await readdir(join(dir, 'blobs', 'sha256'))).map((n) => `blobs/sha256/${n}`)];
  return Promise.all(names.map(async (name) => ({ header: { name }, data: await readFile(join(dir, name)) })));
}

/** The config and layer member names of the single image of the layout in `dir`. */
async function layoutParts(dir: string): Promise<{ config: string; layers: string[] }> {
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(await readFile(join(dir, 'blobs', 'sha256', (index.manifests[0]?.digest ?? '').slice(7)), 'utf8')) as { config: { digest: string }; layers: { digest: string }[] };
  const member = (digest: string): string => `blobs/sha256/${digest.slice(7)}`;
  return { config: member(manifest.config.digest), layers: manifest.layers.map((l) => member(l.digest)) };
}

test('a docker archive whose index.json and manifest.json name different images is refused', { skip }, async (t) => {
  const f = await fixture(t);
  // docker's classic loader reads manifest.json, containerd's (and this import) index.json: the
  // same archive must not be one image to `docker load` and another here.
  const shown = await mkdtemp(join(f.dir, 'layout-'));
  await writeOciLayout(shown, [await tarOf([file('bin/tool', 'reviewed')])], { compression: 'none' });
  const hidden = await mkdtemp(join(f.dir, 'layout-'));
  await writeOciLayout(hidden, [await tarOf([file('bin/tool', 'backdoor')])], { compression: 'none' });
  const archive = async (manifestOf: string): Promise<Buffer> => {
    const parts = await layoutParts(manifestOf);
    const hiddenBlobs = (await layoutEntries(hidden)).filter((e) => e.header.name.startsWith('blobs/') && !existsSync(join(shown, e.header.name)));
    return tarOf([...(await layoutEntries(shown)), ...hiddenBlobs, { header: { name: 'manifest.json' }, data: JSON.stringify([{ Config: parts.config, RepoTags: ['x:latest'], Layers: parts.layers }]) }]);
  };
  writeFileSync(join(f.dir, 'split.tar'), await archive(hidden));
  await assert.rejects(importImage(join(f.dir, 'split.tar'), { config: f.config, name: 'split' }), /index\.json and manifest\.json name different images/);
  await assertNothingLeaked(f);
  // Both naming the same image (what docker 25 writes) imports.
  writeFileSync(join(f.dir, 'agreeing.tar'), await archive(shown));
  const result = await importImage(join(f.dir, 'agreeing.tar'), { config: f.config, name: 'agreeing' });
  assert.equal(await readFile(join(blobDir(storePaths(f.config), result.imageDigest), 'rootfs', 'bin', 'tool'), 'utf8'), 'reviewed');
});

test('an empty PAX path, linkpath or size is refused (tar-stream falls back to the header, others do not)', { skip }, async (t) => {
  const f = await fixture(t);
  // Python reads the name as '' and GNU tar as '.', Go sets it empty: none of them has /usr/bin/evil,
  // which tar-stream would write from the ustar name.
  await refused(f, [[{ header: { name: 'usr/bin/evil', pax: { path: '' } }, data: 'payload' }]], /empty PAX path/);
  await refused(f, [[file('target'), { header: { name: 'lnk', type: 'symlink', linkname: 'target', pax: { linkpath: '' } } }]], /empty PAX linkpath/);
  await refused(f, [[{ header: { name: 'sized', pax: { size: '' } }, data: 'x' }]], /empty PAX size/);
});
