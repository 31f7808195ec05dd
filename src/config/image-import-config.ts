/** Configuration of `image import` and `image pull` (`imageImport`): the bounds on what one image may unpack to. */
import type { z as Zod } from 'zod';

/** Bounds on one import; crossing one stops the import at once, naming the limit. */
export interface ImageImportConfig {
  /** Most bytes of file content written, summed over every layer (overwritten files count too). */
  maxUnpackedBytes: number;
  /** Most tar entries processed, summed over every layer. */
  maxEntries: number;
  /** Most layers in one image. */
  maxLayers: number;
}

/** Defaults: large enough for real toolchain images, small enough to stop a decompression bomb well before the disk fills. */
export const DEFAULT_IMAGE_IMPORT_CONFIG: Readonly<ImageImportConfig> = Object.freeze({
  maxUnpackedBytes: 8 * 1024 ** 3,
  maxEntries: 1_000_000,
  maxLayers: 128,
});

/** The zod schema of `imageImport`. */
export function imageImportSchema(z: typeof Zod) {
  const d = DEFAULT_IMAGE_IMPORT_CONFIG;
  return z
    .object({
      maxUnpackedBytes: z.number().int().positive().default(d.maxUnpackedBytes).describe('Most bytes of file content one image may unpack to, over all its layers (decompression bombs stop here).'),
      maxEntries: z.number().int().positive().default(d.maxEntries).describe('Most tar entries one image may hold, over all its layers.'),
      maxLayers: z.number().int().positive().max(1000).default(d.maxLayers).describe('Most layers one image may have.'),
    })
    .strict()
    .default({ ...d });
}
