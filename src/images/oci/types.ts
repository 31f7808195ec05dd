/**
 * Public shapes of OCI image import: where an image came from, the run configuration kept from it,
 * and the limits that bound what a (hostile) image may unpack to.
 */
import type { AirlockConfig } from '../../config/config.ts';
import { DEFAULT_IMAGE_IMPORT_CONFIG, type ImageImportConfig } from '../../config/image-import-config.ts';

/** Where an imported image came from. `reference` is the registry reference or the file given. */
export interface ImportSource {
  kind: 'oci-layout' | 'docker-archive' | 'registry';
  reference?: string;
}

/**
 * The parts of an OCI image config a sandbox start uses. `user` is recorded but never applied:
 * sandboxes always run as the unprivileged sandbox user.
 */
export interface ImageRunConfig {
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workdir?: string;
  user?: string;
}

/** Bounds on one import (the `imageImport` configuration); crossing one stops the import at once, naming the limit. */
export type ImportLimits = ImageImportConfig;

/** What {@link importImage} stored. */
export interface ImportedImage {
  /** Tag the image is stored under. */
  name: string;
  /**
   * Digest of the source's manifest (`sha256:…`): the OCI manifest for a layout or a registry,
   * the image config (docker's image id) for a legacy `docker save` archive, which has no manifest
   * blob. Signatures bind to this digest.
   */
  digest: string;
  /** Digest of the stored, flattened image (its airlock manifest): what runtimes resolve and verify. */
  imageDigest: string;
  source: ImportSource;
  config: ImageRunConfig;
  layers: number;
  files: number;
  totalBytes: number;
  /** Things the import changed or dropped that a user should know (user remapped, devices dropped). */
  notes: string[];
}

/** Options of {@link importImage}. */
export interface ImportOptions {
  /** Configuration whose store receives the image, whose `imagePolicy` must allow it and whose `imageImport` bounds it; default: the loaded host configuration. */
  config?: Pick<AirlockConfig, 'stateDir' | 'imagePolicy'> & Partial<Pick<AirlockConfig, 'imageImport'>>;
  /** Tag to store the image under; default: derived from the reference, else `imported`. */
  name?: string;
  source?: ImportSource;
  /** Overrides of the configured limits. */
  limits?: Partial<ImportLimits>;
  /** Aborts the import; its work directory is removed. */
  signal?: AbortSignal;
  /** Called as layers are read. `bytes` counts compressed layer bytes read so far. */
  onProgress?: (p: { layers: number; layersDone: number; bytes: number }) => void;
}

/** Defaults (the `imageImport` configuration's). */
export const DEFAULT_IMPORT_LIMITS: ImportLimits = DEFAULT_IMAGE_IMPORT_CONFIG;
