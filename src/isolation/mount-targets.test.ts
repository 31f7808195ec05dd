/** The working-directory rule every runtime applies (checkWorkdir), on a small image tree. */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RefusedControlError } from '../host/control-error.ts';
import type { GrantedMount, SandboxSpec } from './driver.ts';
import { checkMountTargets, checkWorkdir, workdirOnScratch } from './mount-targets.ts';

describe('checkWorkdir', () => {
  let rootfs = '';
  before(async () => {
    rootfs = await mkdtemp(join(tmpdir(), 'airlock-workdir-'));
    await mkdir(join(rootfs, 'usr/share'), { recursive: true });
    await mkdir(join(rootfs, 'tmp'));
    await mkdir(join(rootfs, 'etc'));
    await writeFile(join(rootfs, 'etc/hostname'), 'x');
    await symlink('usr/bin', join(rootfs, 'bin'));
  });
  after(() => rm(rootfs, { recursive: true, force: true }));

  const spec = (workdir: string, mounts: GrantedMount[] = []) =>
    ({ id: 'w', image: { name: 't', digest: `sha256:${'0'.repeat(64)}`, rootfs }, workdir, mounts }) as unknown as SandboxSpec;
  const refusedAsWorkdir = (workdir: string, message: RegExp) => (err: unknown) =>
    err instanceof RefusedControlError && err.control === 'workdir' && message.test(err.message) && err.message.includes(workdir);

  it('accepts the scratch and anything below it (made on demand), a grant, and an existing image directory', () => {
    for (const workdir of ['/', '/tmp', '/tmp/work', '/tmp/a/b/c', '/usr', '/usr/share']) assert.doesNotThrow(() => checkWorkdir(spec(workdir)), workdir);
    assert.doesNotThrow(() => checkWorkdir(spec('/data/sub', [{ hostPath: '/srv/data', sandboxPath: '/data', writable: false }])));
  });

  it('refuses, naming the workdir, one the image lacks, a file, or one reached through a symlink', () => {
    assert.throws(() => checkWorkdir(spec('/no/such/dir')), refusedAsWorkdir('/no/such/dir', /is not a directory in the image/));
    assert.throws(() => checkWorkdir(spec('/etc/hostname')), refusedAsWorkdir('/etc/hostname', /is not a directory in the image/));
    assert.throws(() => checkWorkdir(spec('/bin/x')), refusedAsWorkdir('/bin/x', /symlink/));
    // /tmpx is not below /tmp: it is refused like any other path the image lacks.
    assert.throws(() => checkWorkdir(spec('/tmpx')), refusedAsWorkdir('/tmpx', /not a directory/));
  });

  it('workdirOnScratch: below /tmp and outside every grant', () => {
    assert.equal(workdirOnScratch({ workdir: '/tmp/w', mounts: [] }), true);
    assert.equal(workdirOnScratch({ workdir: '/tmp', mounts: [] }), false);
    assert.equal(workdirOnScratch({ workdir: '/usr/share', mounts: [] }), false);
    assert.equal(workdirOnScratch({ workdir: '/tmp/g/x', mounts: [{ hostPath: '/srv/g', sandboxPath: '/tmp/g', writable: false }] }), false);
  });
});

describe('checkMountTargets', () => {
  let rootfs = '';
  before(async () => {
    rootfs = await mkdtemp(join(tmpdir(), 'airlock-targets-'));
    await mkdir(join(rootfs, 'usr/share'), { recursive: true });
    await mkdir(join(rootfs, 'etc'));
    await writeFile(join(rootfs, 'etc/hostname'), 'x');
    await symlink('usr/bin', join(rootfs, 'bin'));
  });
  after(() => rm(rootfs, { recursive: true, force: true }));

  const spec = (...sandboxPaths: string[]) =>
    ({ id: 't', image: { name: 't', digest: `sha256:${'0'.repeat(64)}`, rootfs }, workdir: '/', mounts: sandboxPaths.map((sandboxPath) => ({ hostPath: '/srv/x', sandboxPath, writable: false })) }) as unknown as SandboxSpec;
  const refused = (message: RegExp) => (err: unknown) => err instanceof RefusedControlError && err.control === 'filesystem_access' && message.test(err.message);

  it('returns the targets the image lacks (the runtime makes them), not those it has or those under /tmp', () => {
    assert.deepEqual(checkMountTargets(spec('/data', '/usr/share', '/usr/share/new/deep', '/tmp/x'), [true, true, true, true]), ['/data', '/usr/share/new/deep']);
  });

  it('refuses a missing target below a file or a symlink of the image, naming it', () => {
    assert.throws(() => checkMountTargets(spec('/etc/hostname/x'), [true]), refused(/\/etc\/hostname is a file in the image/));
    assert.throws(() => checkMountTargets(spec('/bin/x'), [true]), refused(/\/bin is a symlink in the image/));
  });
});
