/**
 * T12 poisoned rootfs (CVE-2025-31133 class), controller side: an image whose masked paths
 * (dev/null, dev, proc, …) are symlinks is refused before any sandbox starts, by the image store's
 * check (resolveImage) and on the path a user takes (`airlock run --image`). Drivers trust the
 * Image they are handed, so the store check is the control under test.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ControlError } from '../../src/host/control-error.ts';
import { resolveImage } from '../../src/images/store.ts';
import { makeFakeStore, type FakeStore } from './lib/fake-store.ts';
import { hostBaseline, leftoverMark, type HostBaseline } from './lib/host.ts';
import { RUNTIMES } from './lib/runtime.ts';
import { runtimeCase, useSuite } from './lib/suite.ts';

const suite = useSuite();
const execFileP = promisify(execFile);
const CLI = new URL('../../bin/airlock.js', import.meta.url).pathname;

let baseline: HostBaseline;
before(() => {
  baseline = hostBaseline();
});

/** Masked paths of an image replaced by a symlink (never followed by this test). */
const POISONS: readonly (readonly [string, string])[] = [
  ['dev/null', '/proc/sys/kernel/core_pattern'],
  ['dev', '/etc'],
  ['dev/pts', '/proc/sys'],
  ['dev/tty', '/dev/tty'],
  ['proc', '/'],
  ['sys', '/sys'],
  ['tmp', '/etc'],
  ['etc/hosts', '/etc/shadow'],
];

/** Builds the tree for one poison: `rel` becomes a symlink to `target`. */
function poisoned(rel: string, target: string): (rootfs: string) => Promise<void> {
  return async (rootfs) => {
    await mkdir(join(rootfs, 'etc'), { recursive: true, mode: 0o755 });
    const path = join(rootfs, rel);
    await rm(path, { recursive: true, force: true });
    await mkdir(join(path, '..'), { recursive: true, mode: 0o755 });
    await symlink(target, path);
  };
}

const imageName = (rel: string) => `poisoned-${rel.replaceAll('/', '-')}`;

describe('T12 poisoned rootfs (controller side)', () => {
  let store: FakeStore;
  before(async () => {
    store = await makeFakeStore();
    await store.add('clean');
    for (const [rel, target] of POISONS) await store.add(imageName(rel), poisoned(rel, target));
    // Not a symlink, but a node where the runtime supplies its own: refused as well.
    await store.add('poisoned-dev-null-file', async (rootfs) => writeFile(join(rootfs, 'dev', 'null'), ''));
  });
  after(() => store.cleanup());

  test('a clean fixture image resolves (the refusals below are about the poison only)', async () => {
    const image = await resolveImage({ stateDir: store.stateDir }, 'clean');
    assert.equal(image.name, 'clean');
  });

  for (const [rel, target] of POISONS) {
    test(`image whose /${rel} is a symlink (-> ${target}) is refused by resolveImage`, async () => {
      await assert.rejects(resolveImage({ stateDir: store.stateDir }, imageName(rel)), (err: unknown) => {
        assert.ok(err instanceof ControlError, `not a ControlError: ${String(err)}`);
        assert.equal(err.control, 'image');
        assert.match(err.message, /poisoned rootfs/);
        assert.ok(err.message.includes(`/${rel.split('/')[0]}`), `the refusal names the path: ${err.message}`);
        return true;
      });
    });
  }

  test('image whose /dev/null is a regular file is refused by resolveImage', async () => {
    await assert.rejects(resolveImage({ stateDir: store.stateDir }, 'poisoned-dev-null-file'), /poisoned rootfs: \/dev\/null/);
  });

  for (const runtime of RUNTIMES) {
    runtimeCase(suite, runtime, `${runtime}: \`airlock run --image\` with a poisoned image is refused before any sandbox starts`, async () => {
      const configFile = join(store.stateDir, `config-${runtime}.json`);
      const { stateDir } = store;
      const { runDir, cgroupParent, hostUidBase, hostUidCount } = suite.config;
      await writeFile(configFile, JSON.stringify({ stateDir, runDir, cgroupParent, hostUidBase, hostUidCount }));
      const mark = leftoverMark(suite.config, baseline);
      for (const rel of ['dev/null', 'dev']) {
        const run = execFileP(process.execPath, [CLI, '--config', configFile, 'run', '--runtime', runtime, '--image', imageName(rel), '--', '/bin/true'], {
          timeout: 60_000,
        });
        await assert.rejects(run, (err: { code?: number; stderr?: string }) => {
          assert.equal(err.code, 1, `exit code: ${String(err.code)}; stderr: ${err.stderr ?? ''}`);
          assert.match(err.stderr ?? '', /poisoned rootfs/);
          return true;
        });
      }
      await mark.assertNoneAdded('a refused start left something behind');
    });
  }
});
