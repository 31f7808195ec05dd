import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectGarbage } from './gc.ts';
import { ensureStore, storePaths } from './paths.ts';
import { writeTag } from './tags.ts';
import { PULL_TMP_PREFIX } from './registry/pull.ts';

const HOUR_AGO = new Date(Date.now() - 2 * 3_600_000);
const hex = (c: string): string => c.repeat(64);

/** A pid that was just used and has exited. */
function deadPid(): number {
  const r = spawnSync('true');
  return r.pid ?? 1;
}

test('gc removes untagged blobs, abandoned work directories and old helper builds; keeps tagged, mounted, running and recent ones', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-gc-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const stateDir = join(dir, 'state');
  const paths = storePaths({ stateDir });
  await ensureStore(paths);
  const blob = async (h: string, old = true): Promise<void> => {
    await mkdir(join(paths.blobs, h, 'rootfs'), { recursive: true });
    if (old) await utimes(join(paths.blobs, h), HOUR_AGO, HOUR_AGO);
  };
  await blob(hex('a')); // tagged
  await writeTag(paths, 'kept', `sha256:${hex('a')}`);
  await blob(hex('b')); // untagged, old: collected
  await blob(hex('c')); // untagged, but a mount table names it
  await blob(hex('d'), false); // untagged, just committed: within the grace period
  const dead = deadPid();
  await mkdir(join(paths.tmp, `import-${dead}-x1`));
  await mkdir(join(paths.tmp, `import-${process.pid}-x2`));
  await mkdir(join(paths.tmp, 'build-legacy'));
  await utimes(join(paths.tmp, 'build-legacy'), HOUR_AGO, HOUR_AGO);
  await mkdir(join(paths.tmp, 'build-fresh'));
  await writeFile(join(paths.tags, `.kept.${dead}.tmp`), 'x');
  // Two builds of a helper: the older one goes, the newest stays; an old abandoned build directory goes.
  const agent = join(stateDir, 'agent');
  for (const [k, when] of [[hex('1'), HOUR_AGO], [hex('2'), new Date()]] as const) {
    await mkdir(join(agent, k), { recursive: true });
    await writeFile(join(agent, `${k}.sha256`), 'x\n');
    await utimes(join(agent, `${k}.sha256`), when, when);
  }
  await mkdir(join(agent, '.build-abc'));
  await utimes(join(agent, '.build-abc'), HOUR_AGO, HOUR_AGO);
  // A fake /proc: one process whose mount namespace has blob c mounted.
  const proc = join(dir, 'proc');
  await mkdir(join(proc, '4242', 'ns'), { recursive: true });
  await symlink('mnt:[4026531841]', join(proc, '4242', 'ns', 'mnt'));
  await writeFile(join(proc, '4242', 'mountinfo'), `206 98 254:0 ${paths.blobs}/${hex('c')}/rootfs / ro,nosuid - ext4 /dev/vda rw\n`);

  const dry = await collectGarbage({ stateDir }, { proc, dryRun: true });
  assert.deepEqual(dry.blobs.map((b) => b.digest), [`sha256:${hex('b')}`]);
  assert.ok((await readdir(paths.blobs)).includes(hex('b')), 'a dry run removes nothing');

  const report = await collectGarbage({ stateDir }, { proc });
  assert.deepEqual(report.blobs.map((b) => b.digest), [`sha256:${hex('b')}`]);
  assert.deepEqual(report.inUse, [`sha256:${hex('c')}`]);
  assert.deepEqual((await readdir(paths.blobs)).sort(), [hex('a'), hex('c'), hex('d')]);
  assert.deepEqual((await readdir(paths.tmp)).sort(), ['build-fresh', `import-${process.pid}-x2`]);
  assert.deepEqual(await readdir(paths.tags), ['kept']);
  assert.deepEqual((await readdir(agent)).sort(), [hex('2'), `${hex('2')}.sha256`]);
  assert.deepEqual(report.helperBuilds.map((b) => b.path).sort(), [join(agent, '.build-abc'), join(agent, hex('1'))]);
});

test('gc of a state directory without a store creates nothing', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-gc-empty-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const report = await collectGarbage({ stateDir: join(dir, 'state') }, { proc: join(dir) }).catch((err: unknown) => err);
  assert.ok(!(report instanceof Error), String(report));
  assert.deepEqual(await readdir(dir), []);
});

test('gc recognises an abandoned pull download directory by its pid, as import and build ones, not only after an hour', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-gc-pull-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const stateDir = join(dir, 'state');
  const paths = storePaths({ stateDir });
  await ensureStore(paths);
  const dead = deadPid();
  // Both just made (well within an hour): only the pid tells them apart.
  await mkdir(join(paths.tmp, `${PULL_TMP_PREFIX}${dead}-a1`));
  await mkdir(join(paths.tmp, `${PULL_TMP_PREFIX}${process.pid}-a2`));
  // A fake /proc with no process: no mount table names anything.
  await mkdir(join(dir, 'proc'));
  const report = await collectGarbage({ stateDir }, { proc: join(dir, 'proc') });
  assert.deepEqual(report.tmp, [join(paths.tmp, `${PULL_TMP_PREFIX}${dead}-a1`)]);
  assert.deepEqual(await readdir(paths.tmp), [`${PULL_TMP_PREFIX}${process.pid}-a2`]);
});
