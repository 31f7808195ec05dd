/**
 * ImageReverifier on a real (tiny) image store: what it re-verifies, that it reports a failure
 * once, that an image that can no longer be read fails closed, and that 0 turns the schedule off.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { configSchema } from '../config/config.ts';
import { manifestTree } from './manifest.ts';
import { blobDir, ensureStore, storePaths } from './paths.ts';
import { commitBlob } from './store.ts';
import { writeTag } from './tags.ts';
import { ImageReverifier, type ReverifyFailure } from './reverify.ts';

// The image store must be root-owned, which only root can make.
const skip = process.getuid?.() !== 0 ? 'needs root (the image store must be root-owned)' : false;

/** A state directory with one tiny image tagged `tiny`; returns its digest too. */
async function tinyStore(t: TestContext): Promise<{ stateDir: string; digest: string; rootfs: string }> {
  const stateDir = await mkdtemp(join(tmpdir(), 'airlock-reverify-'));
  t.after(() => rm(stateDir, { recursive: true, force: true }));
  const paths = storePaths({ stateDir });
  await ensureStore(paths);
  const work = await mkdtemp(join(paths.tmp, 'build-'));
  await chmod(work, 0o755);
  const root = join(work, 'rootfs');
  for (const d of ['dev', 'proc', 'sys', 'tmp', 'etc']) await mkdir(join(root, d), { recursive: true, mode: 0o755 });
  await writeFile(join(root, 'etc', 'hostname'), 'tiny\n', { mode: 0o644 });
  const tree = await manifestTree(root);
  await writeFile(join(work, 'manifest.json'), tree.bytes, { mode: 0o644 });
  await commitBlob(paths, work, tree.digest);
  await writeTag(paths, 'tiny', tree.digest);
  return { stateDir, digest: tree.digest, rootfs: join(blobDir(paths, tree.digest), 'rootfs') };
}

const configOf = (stateDir: string, imageReverifySeconds: number) => configSchema.parse({ stateDir, service: { imageReverifySeconds } });

test('only images in use are checked; a change is reported once and refused from then on', { skip }, async (t) => {
  const { stateDir, digest, rootfs } = await tinyStore(t);
  const failures: ReverifyFailure[] = [];
  const reverifier = new ImageReverifier({ config: configOf(stateDir, 0), onFailure: (f) => failures.push(f) });
  await writeFile(join(rootfs, 'etc', 'hostname'), 'changed\n');
  assert.deepEqual(await reverifier.runOnce(), [], 'an image no sandbox uses is not checked');
  reverifier.noteInUse({ name: 'tiny', digest });
  const found = await reverifier.runOnce();
  assert.equal(found.length, 1);
  assert.equal(failures.length, 1);
  assert.match(failures[0]!.differences.join('\n'), /etc\/hostname: .*content changed/);
  assert.match(reverifier.refusal(digest) ?? '', /^image_integrity: image tiny \(sha256:[0-9a-f]{64}\) is out of service/);
  assert.deepEqual(await reverifier.runOnce(), [], 'reported once');
  assert.equal(failures.length, 1);
});

test('an image that can no longer be read fails closed; concurrent runs are joined', { skip }, async (t) => {
  const { stateDir, digest, rootfs } = await tinyStore(t);
  const failures: ReverifyFailure[] = [];
  const reverifier = new ImageReverifier({ config: configOf(stateDir, 0), onFailure: (f) => failures.push(f) });
  reverifier.noteInUse({ name: 'tiny', digest });
  const [a, b] = [reverifier.runOnce(), reverifier.runOnce()];
  assert.equal(a, b, 'a second call joins the run under way');
  assert.deepEqual(await a, []);
  assert.equal(reverifier.refusal(digest), undefined);
  await rm(rootfs, { recursive: true });
  await reverifier.runOnce();
  assert.equal(failures.length, 1);
  assert.match(failures[0]!.differences[0] ?? '', /^could not be verified: /);
  assert.ok(reverifier.refusal(digest) !== undefined);
});

test('the schedule runs every imageReverifySeconds, and not at all at 0', { skip }, async (t) => {
  const { stateDir, digest, rootfs } = await tinyStore(t);
  await writeFile(join(rootfs, 'etc', 'hostname'), 'changed\n');
  for (const seconds of [0, 1]) {
    const failures: ReverifyFailure[] = [];
    const reverifier = new ImageReverifier({ config: configOf(stateDir, seconds), onFailure: (f) => failures.push(f) });
    reverifier.noteInUse({ name: 'tiny', digest });
    reverifier.start();
    await sleep(2500);
    reverifier.stop();
    assert.equal(failures.length, seconds === 0 ? 0 : 1, `imageReverifySeconds ${seconds}`);
  }
});

test('imageReverifySeconds: hourly by default, whole seconds, 0 or more', () => {
  assert.equal(configSchema.parse({}).service.imageReverifySeconds, 3600);
  for (const bad of [-1, 1.5, '60']) assert.throws(() => configSchema.parse({ service: { imageReverifySeconds: bad } }), /imageReverifySeconds/);
});
