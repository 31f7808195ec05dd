import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../../config/config.ts';
import { blobDir, storePaths } from '../paths.ts';
import { readTag } from '../tags.ts';
import { verifyImage } from '../verify.ts';
import { importImage } from './import.ts';
import { readRunConfig } from './run-config.ts';
import { dockerArchive, tarOf, writeOciLayout } from './test-images.ts';

const root = process.getuid?.() === 0;

async function scratch(t: { after: (fn: () => Promise<void>) => void }): Promise<{ dir: string; config: ReturnType<typeof configSchema.parse> }> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-oci-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return { dir, config: configSchema.parse({ stateDir: join(dir, 'state') }) };
}

const base = (): Promise<Buffer> =>
  tarOf([
    { header: { name: 'bin/', type: 'directory', mode: 0o755 } },
    { header: { name: 'bin/tool', mode: 0o4755 }, data: '#!/bin/sh\necho tool\n' },
    { header: { name: 'bin/alias', type: 'link', linkname: 'bin/tool' } },
    { header: { name: 'etc/', type: 'directory' } },
    { header: { name: 'etc/os-release' }, data: 'ID=fixture\n' },
    // Replaced by sanitize with a file of the same size (often on the same, freed inode): the hash taken at write must not be reused.
    { header: { name: 'etc/hostname' }, data: 'evilhst\n' },
    { header: { name: 'opt/app/old.txt' }, data: 'old' },
    { header: { name: 'opt/app/keep/' , type: 'directory' } },
    { header: { name: 'opt/app/keep/lower.txt' }, data: 'lower' },
    { header: { name: 'gone.txt' }, data: 'deleted by the next layer' },
    { header: { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3 } },
    { header: { name: 'pipe', type: 'fifo' } },
    { header: { name: 'cap-file', pax: { 'SCHILY.xattr.security.capability': '\u0001\u0000\u0000\u0002' } }, data: 'x' },
  ]);

const top = (): Promise<Buffer> =>
  tarOf([
    { header: { name: '.wh.gone.txt' } },
    { header: { name: 'opt/app/keep/' , type: 'directory' } },
    { header: { name: 'opt/app/keep/upper.txt' }, data: 'upper' },
    { header: { name: 'opt/app/.wh..wh..opq' } },
    { header: { name: 'opt/app/new.txt' }, data: 'new' },
    { header: { name: 'usr/bin/tool', type: 'symlink', linkname: '/bin/tool' } },
  ]);

test('an OCI layout (gzip and zstd layers) is flattened, verified, tagged, and keeps its run config', { skip: root ? false : 'needs root (the store is root-owned)' }, async (t) => {
  const { dir, config } = await scratch(t);
  for (const compression of ['gzip', 'zstd', 'none'] as const) {
    const layout = join(dir, `layout-${compression}`);
    const digest = await writeOciLayout(layout, [await base(), await top()], {
      compression,
      run: { Entrypoint: ['/bin/tool'], Cmd: ['--help'], Env: ['PATH=/bin', 'A=b'], WorkingDir: '/opt/app', User: 'app' },
    });
    const progress: number[] = [];
    const result = await importImage(layout, { config, name: `fixture-${compression}`, onProgress: (p) => progress.push(p.layersDone) });
    assert.equal(result.digest, digest, 'the manifest digest is reported');
    assert.equal(result.source.kind, 'oci-layout');
    assert.deepEqual(result.config, { entrypoint: ['/bin/tool'], cmd: ['--help'], env: ['PATH=/bin', 'A=b'], workdir: '/opt/app', user: 'app' });
    assert.ok(result.notes.some((n) => n.includes('"app" is not used')), 'says the user is remapped');
    assert.ok(result.notes.some((n) => n.includes('setuid')), 'says setuid was stripped');
    assert.deepEqual([...new Set(progress)], [0, 1, 2], 'layers are reported in order');
    assert.equal(readTag(storePaths(config), `fixture-${compression}`), result.imageDigest);
    const verified = await verifyImage(config, `fixture-${compression}`);
    assert.deepEqual(verified.differences, []);
    const rootfs = join(blobDir(storePaths(config), result.imageDigest), 'rootfs');
    assert.equal((await lstat(join(rootfs, 'bin/tool'))).mode & 0o7777, 0o755, 'setuid stripped');
    assert.equal((await lstat(join(rootfs, 'bin/alias'))).ino, (await lstat(join(rootfs, 'bin/tool'))).ino, 'hard link kept');
    assert.equal(await readlink(join(rootfs, 'usr/bin/tool')), '/bin/tool');
    await assert.rejects(lstat(join(rootfs, 'gone.txt')), { code: 'ENOENT' }, 'whiteout deleted the lower file');
    await assert.rejects(lstat(join(rootfs, 'opt/app/old.txt')), { code: 'ENOENT' }, 'opaque dir hid the lower file');
    await assert.rejects(lstat(join(rootfs, 'opt/app/keep/lower.txt')), { code: 'ENOENT' }, 'opaque dir hid lower files below it too');
    assert.equal(await readFile(join(rootfs, 'opt/app/keep/upper.txt'), 'utf8'), 'upper');
    assert.equal(await readFile(join(rootfs, 'opt/app/new.txt'), 'utf8'), 'new');
    assert.deepEqual(await readdir(join(rootfs, 'dev')), [], 'device nodes dropped');
    await assert.rejects(lstat(join(rootfs, 'pipe')), { code: 'ENOENT' }, 'fifo dropped');
    assert.deepEqual(await readRunConfig(rootfs), result.config, 'run config is stored inside the image (covered by its digest)');
    assert.equal(await readFile(join(rootfs, 'etc/hostname'), 'utf8'), 'sandbox\n');
  }
  assert.deepEqual(await readdir(storePaths(config).tmp), [], 'no work directory is left');
});

test('a legacy docker save archive imports; its digest is the config digest and layers are bound by diff ids', { skip: root ? false : 'needs root' }, async (t) => {
  const { dir, config } = await scratch(t);
  const { archive, configDigest } = await dockerArchive([await base(), await top()], { run: { Cmd: ['/bin/tool'] } });
  const file = join(dir, 'fixture.tar');
  await writeFile(file, archive);
  const result = await importImage(file, { config });
  assert.equal(result.name, 'fixture', 'named after the file');
  assert.equal(result.digest, configDigest);
  assert.equal(result.source.kind, 'docker-archive');
  assert.deepEqual(result.config, { cmd: ['/bin/tool'] });
  assert.deepEqual((await verifyImage(config, 'fixture')).differences, []);
  assert.deepEqual(await readdir(storePaths(config).tmp), []);
  // A layer large enough to be read in place from the (uncompressed) archive, then the same archive with one byte of it changed.
  const big = await tarOf([{ header: { name: 'big.bin' }, data: Buffer.alloc(300 * 1024, 7) }]);
  const inPlace = await dockerArchive([await base(), big]);
  await writeFile(file, inPlace.archive);
  const second = await importImage(file, { config, name: 'in-place' });
  const rootfs = join(blobDir(storePaths(config), second.imageDigest), 'rootfs');
  assert.deepEqual(await readFile(join(rootfs, 'big.bin')), Buffer.alloc(300 * 1024, 7));
  const at = inPlace.archive.indexOf(Buffer.alloc(1024, 7));
  inPlace.archive[at + 100] = 8;
  await writeFile(file, inPlace.archive);
  await assert.rejects(importImage(file, { config, name: 'tampered' }), /layer 2 \(.*layer\.tar\) \(uncompressed\): digest mismatch/);
  assert.deepEqual(await readdir(storePaths(config).tmp), []);
});
