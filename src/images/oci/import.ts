/** Import entry point (body in progress). */
import type { ImportedImage, ImportOptions } from './types.ts';

/**
 * Imports the image at `path` (an OCI image layout directory or a `docker save` archive) into the
 * store of `options.config` and tags it.
 */
export async function importImage(path: string, options: ImportOptions = {}): Promise<ImportedImage> {
  void options;
  throw new Error(`image import of ${path}: not implemented yet`);
}
