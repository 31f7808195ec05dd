/**
 * The image's root as the guest's read-only disk: an erofs filesystem built from the verified,
 * content-addressed image tree (mkfs.erofs, Debian's erofs-utils), once per image digest, cached
 * under `${stateDir}/microvm/erofs/` and checked against its recorded checksum before each boot.
 */
import { execFile } from 'node:child_process';
import { ControlError } from '../../host/control-error.ts';
import { findExecutable } from '../../host/which.ts';
import type { Image } from '../../images/image.ts';
import { artefactDir, artefactExists, inputsKey, publishArtefact, verifyArtefact, type ArtefactStamps } from './artefacts.ts';

const run = process.getBuiltinModule('node:util').promisify(execFile);

/** mkfs.erofs options: fixed timestamp and UUID, so the same tree always gives the same bytes. */
const MKFS_OPTIONS = ['--quiet', '-T0', '-U', '00000000-0000-0000-0000-000000000000'];

/** The cached erofs root of `image`, verified; built now if missing. */
export async function ensureRootImage(stateDir: string, image: Image, stamps: ArtefactStamps): Promise<string> {
  const digest = /^sha256:([0-9a-f]{64})$/.exec(image.digest)?.[1];
  if (digest === undefined) throw new ControlError('microvm', `image digest ${image.digest} is not sha256:<hex>`);
  const mkfs = findExecutable('mkfs.erofs');
  const key = inputsKey([['image', digest], ['mkfs', MKFS_OPTIONS.join(' ')]]);
  const path = `${artefactDir(stateDir, 'erofs')}/${key}.erofs`;
  if (!artefactExists(path)) {
    if (mkfs === undefined) throw new ControlError('microvm', 'mkfs.erofs is needed to build the guest root (apt-get install erofs-utils)');
    await publishArtefact(path, 'microvm', async (tmp) => {
      try {
        await run(mkfs, [...MKFS_OPTIONS, tmp, image.rootfs], { env: { PATH: '/usr/bin:/bin', LANG: 'C' }, timeout: 600_000, maxBuffer: 16 << 20 });
      } catch (err) {
        throw new ControlError('microvm', `mkfs.erofs failed for ${image.digest}: ${((err as { stderr?: string }).stderr ?? (err as Error).message).trim().slice(-400)}`, { cause: err });
      }
    });
  }
  await verifyArtefact(path, 'microvm', stamps);
  return path;
}
