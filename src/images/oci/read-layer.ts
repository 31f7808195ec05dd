/** One layer from its blob file to the staging tree: digest, decompression, diff id, bounds, apply. */
import { pipeline } from 'node:stream/promises';
import type { Transform } from 'node:stream';
import { extract } from 'tar-stream';
import { applyLayer } from './apply-layer.ts';
import type { ImportCounters } from './apply-layer.ts';
import { ImportError } from './import-error.ts';
import { byteCap, decompressor, digestCheck, openBlob } from './blob-stream.ts';
import type { BlobRef } from './blob-stream.ts';
import type { StagingTree } from './staging-tree.ts';
import type { ImportLimits } from './types.ts';

/** A layer blob on disk and what it must hash to. */
export interface LayerSource {
  blob: BlobRef;
  /** Names the layer in errors. */
  label: string;
  /** Digest (and size) of the blob as stored, compressed or not, when a manifest gives it. */
  digest?: string;
  size?: number;
  /** Digest of the uncompressed tar (the config's `rootfs.diff_ids`). */
  diffId?: string;
}

/**
 * Streams one layer onto the tree. The blob's digest and its diff id are checked as the bytes
 * pass; a mismatch fails the import naming the layer (what was already written lies in the
 * staging directory, which the caller removes).
 */
export async function readLayer(
  tree: StagingTree,
  index: number,
  source: LayerSource,
  limits: ImportLimits,
  counters: ImportCounters,
  options: { onBytes?: (n: number) => void; signal?: AbortSignal } = {},
): Promise<void> {
  const { stream, compression } = await openBlob(source.blob, source.label);
  const stages: Transform[] = [];
  if (source.digest !== undefined) {
    stages.push(digestCheck({ digest: source.digest, label: source.label, ...(source.size !== undefined ? { size: source.size } : {}) }, options.onBytes));
  }
  const decompress = decompressor(compression);
  if (decompress !== undefined) stages.push(decompress);
  // Tar headers and padding ride on top of file contents: a margin per entry, never unbounded.
  stages.push(byteCap(limits.maxUnpackedBytes + 1536 * limits.maxEntries + 1024 * 1024, source.label));
  if (source.diffId !== undefined) stages.push(digestCheck({ digest: source.diffId, label: `${source.label} (uncompressed)` }));
  const tar = extract();
  const flowing = pipeline([stream, ...stages, tar], options.signal === undefined ? {} : { signal: options.signal });
  // Handled here too: it may fail while entries are still being applied, before it is awaited.
  flowing.catch(() => {});
  try {
    await applyLayer(tree, index, tar, limits, counters);
  } catch (err) {
    stream.destroy();
    tar.destroy();
    await flowing.catch(() => {});
    throw named(err, source.label);
  }
  await flowing.catch((err: unknown) => {
    throw named(err, source.label);
  });
}

/** The tar parser's own errors ("Invalid tar header") name the layer; ours and aborts pass as they are. */
function named(err: unknown, label: string): unknown {
  if (err instanceof ImportError || (err as Error).name === 'AbortError') return err;
  return new ImportError(`${label}: not a valid tar layer: ${(err as Error).message}`, { cause: err });
}
