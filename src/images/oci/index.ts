/**
 * OCI image import: `docker save` archives and OCI image layout directories (and, through the
 * registry client, pulled images) flattened into the content-addressed store.
 */
export type { ImageRunConfig, ImportedImage, ImportLimits, ImportOptions, ImportSource } from './types.ts';
export { DEFAULT_IMPORT_LIMITS } from './types.ts';
export { importImage } from './import.ts';
