/** Releasing a lease held as a file: idempotent, and quiet when a reaper already removed it. */
import { unlinkSync } from 'node:fs';

/** Returns a function that removes `path` once; later calls do nothing. */
export function fileReleaser(path: string): () => void {
  let released = false;
  return () => {
    if (released) return;
    released = true;
    try {
      unlinkSync(path);
    } catch {
      // Already released by a reaper.
    }
  };
}
