/**
 * An OCI image layout (index.json → manifest → config + layers), read from any set of files: a
 * directory (`skopeo copy … oci:DIR`, a registry pull's staging) or a `docker save` archive's
 * unpacked members. Every blob is checked against the digest its parent names.
 */
import { ImportError } from './import-error.ts';
import { parseImageConfig, hostArchitecture } from './image-config.ts';
import { readSmallBlob } from './blob-stream.ts';
import type { BlobRef } from './blob-stream.ts';
import type { LayerSource } from './read-layer.ts';
import type { ImageRunConfig } from './types.ts';

/** Where a member file (`blobs/sha256/<hex>`, `index.json`) lies on the host; refuses a missing one. */
export type FileLookup = (name: string) => Promise<BlobRef>;

/** An image ready to be flattened. */
export interface ResolvedImage {
  /** Digest of the manifest (or, for a legacy docker archive, of the config). */
  digest: string;
  config: ImageRunConfig;
  layers: LayerSource[];
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: { os?: string; architecture?: string };
}

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);
const MANIFEST_TYPES = new Set(['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json']);

/** `blobs/sha256/<hex>` of a digest, refusing anything but a well-formed sha256 digest. */
export function blobName(digest: unknown, label: string): string {
  // Why: the digest becomes a file name; anything else could name a file outside blobs/.
  if (typeof digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(digest)) throw new ImportError(`${label}: bad digest ${JSON.stringify(digest)}`);
  return `blobs/sha256/${digest.slice('sha256:'.length)}`;
}

function descriptor(raw: unknown, label: string): Descriptor {
  const d = raw as Partial<Descriptor> | null;
  if (d === null || typeof d !== 'object') throw new ImportError(`${label}: not a descriptor`);
  blobName(d.digest, label);
  if (d.size !== undefined && (!Number.isSafeInteger(d.size) || d.size < 0)) throw new ImportError(`${label}: bad size`);
  return d as Descriptor;
}

function parseJson(bytes: Buffer, label: string): Record<string, unknown> {
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as unknown;
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('not an object');
    return doc as Record<string, unknown>;
  } catch (err) {
    throw new ImportError(`${label}: not a JSON object: ${(err as Error).message}`, { cause: err });
  }
}

async function readBlobJson(files: FileLookup, d: Descriptor, label: string): Promise<Record<string, unknown>> {
  const blob = await files(blobName(d.digest, label));
  return parseJson(await readSmallBlob(blob, label, 4 * 1024 * 1024, { digest: d.digest, label, ...(d.size !== undefined ? { size: d.size } : {}) }), label);
}

/** One manifest out of an index: the only one, or the one for this host's platform. */
function pick(manifests: Descriptor[], label: string): Descriptor {
  if (manifests.length === 1 && manifests[0] !== undefined) return manifests[0];
  const arch = hostArchitecture();
  const match = manifests.filter((m) => (m.platform?.os ?? 'linux') === 'linux' && m.platform?.architecture === arch);
  if (match.length >= 1 && match[0] !== undefined) return match[0];
  throw new ImportError(`${label}: ${manifests.length} manifests and none for linux/${arch}`);
}

/** Resolves the layout's image: index (possibly nested once) → manifest → config and layers. */
export async function readLayout(files: FileLookup): Promise<ResolvedImage> {
  const index = parseJson(await readSmallBlob(await files('index.json'), 'index.json'), 'index.json');
  if (!Array.isArray(index['manifests']) || index['manifests'].length === 0) throw new ImportError('index.json lists no manifests');
  let chosen = pick(index['manifests'].map((m, i) => descriptor(m, `index.json manifest ${i}`)), 'index.json');
  let manifest = await readBlobJson(files, chosen, `manifest ${chosen.digest}`);
  for (let depth = 0; Array.isArray(manifest['manifests']) || INDEX_TYPES.has(String(manifest['mediaType'] ?? chosen.mediaType)); depth++) {
    // Why: an index of indexes of indexes is not an image; the nesting is bounded.
    if (depth >= 2 || !Array.isArray(manifest['manifests'])) throw new ImportError(`manifest ${chosen.digest}: nested image indexes`);
    chosen = pick(manifest['manifests'].map((m, i) => descriptor(m, `index ${chosen.digest} manifest ${i}`)), `index ${chosen.digest}`);
    manifest = await readBlobJson(files, chosen, `manifest ${chosen.digest}`);
  }
  const mediaType = manifest['mediaType'] ?? chosen.mediaType;
  if (mediaType !== undefined && !MANIFEST_TYPES.has(String(mediaType))) throw new ImportError(`manifest ${chosen.digest}: unsupported media type ${JSON.stringify(mediaType)}`);
  if (!Array.isArray(manifest['layers'])) throw new ImportError(`manifest ${chosen.digest}: no layers list`);
  const configDesc = descriptor(manifest['config'], `manifest ${chosen.digest} config`);
  const config = parseImageConfig(Buffer.from(JSON.stringify(await readBlobJson(files, configDesc, `config ${configDesc.digest}`))), `config ${configDesc.digest}`);
  const layerDescs = manifest['layers'].map((l, i) => descriptor(l, `layer ${i + 1}`));
  if (config.diffIds.length !== layerDescs.length) {
    throw new ImportError(`config ${configDesc.digest}: ${config.diffIds.length} diff ids for ${layerDescs.length} layers`);
  }
  const layers: LayerSource[] = [];
  for (const [i, d] of layerDescs.entries()) {
    const label = `layer ${i + 1} (${d.digest})`;
    if (d.mediaType !== undefined && !/tar/.test(d.mediaType)) throw new ImportError(`${label}: unsupported media type ${JSON.stringify(d.mediaType)}`);
    const diffId = config.diffIds[i];
    layers.push({ blob: await files(blobName(d.digest, label)), label, digest: d.digest, ...(d.size !== undefined ? { size: d.size } : {}), ...(diffId !== undefined ? { diffId } : {}) });
  }
  return { digest: chosen.digest, config: config.run, layers };
}
