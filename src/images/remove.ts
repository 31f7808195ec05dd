/** `image rm`: removes a tag, and its blob too when no other tag names it and no live sandbox has it mounted. */
import { rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { AirlockConfig } from '../config/config.ts';
import { hostMountTables, keysInUse } from './live-references.ts';
import { blobDir, ImageNotFoundError, storePaths } from './paths.ts';
import { checkImageName, listTags, readTag } from './tags.ts';

/** What {@link removeImage} did. */
export interface RemoveResult {
  name: string;
  digest: string;
  /** True when the blob went too; false when another tag or a live sandbox still holds it (gc takes it later). */
  blobRemoved: boolean;
  /** Why the blob stayed, or null. */
  keptBecause: string | null;
}

/** Removes image `name` (see the file comment). Throws ImageNotFoundError for an unknown name. */
export async function removeImage(config: Pick<AirlockConfig, 'stateDir'>, name: string): Promise<RemoveResult> {
  checkImageName(name);
  const paths = storePaths(config);
  const digest = readTag(paths, name);
  if (digest === null) throw new ImageNotFoundError(name);
  await unlink(join(paths.tags, name));
  const others = (await listTags(paths)).filter((t) => t.digest === digest).map((t) => t.name);
  if (others.length > 0) return { name, digest, blobRemoved: false, keptBecause: `also tagged ${others.join(', ')}` };
  const hex = digest.slice('sha256:'.length);
  // Why: a live sandbox's root must not vanish under it; gc removes the blob once it is gone.
  if (keysInUse(await hostMountTables(), [hex]).has(hex)) return { name, digest, blobRemoved: false, keptBecause: 'a live sandbox uses it' };
  const trash = join(paths.tmp, `gc-${hex}`);
  try {
    await rename(blobDir(paths, digest), trash);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { name, digest, blobRemoved: false, keptBecause: 'blob was already gone' };
    throw err;
  }
  await rm(trash, { recursive: true, force: true });
  return { name, digest, blobRemoved: true, keptBecause: null };
}
