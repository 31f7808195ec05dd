/** The root built around an image for mount points it lacks (rootWithMountPoints), on a small image tree. */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rootWithMountPoints } from './root-layout.ts';

describe('rootWithMountPoints', () => {
  let rootfs = '';
  before(async () => {
    rootfs = await mkdtemp(join(tmpdir(), 'airlock-root-layout-'));
    await mkdir(join(rootfs, 'usr/share'), { recursive: true });
    await mkdir(join(rootfs, 'opt'));
    await chmod(join(rootfs, 'opt'), 0o750);
    await mkdir(join(rootfs, 'opt/tool'));
    await writeFile(join(rootfs, 'opt/readme'), 'x');
    await symlink('usr/bin', join(rootfs, 'bin'));
  });
  after(() => rm(rootfs, { recursive: true, force: true }));

  it('binds every top entry read-only and recreates symlinks, for a missing top-level target', () => {
    assert.deepEqual(rootWithMountPoints(rootfs, ['/data']), [
      '--symlink', 'usr/bin', '/bin',
      '--ro-bind', `${rootfs}/opt`, '/opt',
      '--ro-bind', `${rootfs}/usr`, '/usr',
    ]);
  });

  it('rebuilds each image directory on the way to a deeper target with its mode, binding its entries', () => {
    assert.deepEqual(rootWithMountPoints(rootfs, ['/opt/new/deep']), [
      '--symlink', 'usr/bin', '/bin',
      '--perms', '0750', '--dir', '/opt',
      '--ro-bind', `${rootfs}/opt/readme`, '/opt/readme',
      '--ro-bind', `${rootfs}/opt/tool`, '/opt/tool',
      '--ro-bind', `${rootfs}/usr`, '/usr',
    ]);
  });
});
