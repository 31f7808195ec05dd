/** Reading registry manifests: an index narrowed to one platform, an image manifest's descriptors. */
import { isDigest } from '../manifest.ts';
import { RegistryError } from './client.ts';

/** A content descriptor: what a blob is, its digest and declared size. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string> | undefined;
}

/** An image manifest's parts. */
export interface ImageManifest {
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);
const MANIFEST_TYPES = new Set(['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json']);

/** The platform pulled from an index: sandboxes run on this host's kernel, linux/amd64. */
export const PULL_PLATFORM = { os: 'linux', architecture: 'amd64' } as const;

function json(bytes: Buffer, what: string): Record<string, unknown> {
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as unknown;
    if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) return doc as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new RegistryError(`${what} is not a JSON object`);
}

function descriptor(value: unknown, what: string): Descriptor {
  const d = value as Partial<Descriptor> | null;
  if (typeof d !== 'object' || d === null || typeof d.digest !== 'string' || !isDigest(d.digest)) throw new RegistryError(`${what} has no sha256 digest`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw new RegistryError(`${what} (${d.digest}) has no valid size`);
  const annotations = d.annotations !== undefined && typeof d.annotations === 'object' && d.annotations !== null ? (d.annotations as Record<string, string>) : undefined;
  return { mediaType: typeof d.mediaType === 'string' ? d.mediaType : '', digest: d.digest, size: d.size, annotations };
}

/** The media type of a manifest document: its own field, else the Content-Type it came with. */
function mediaTypeOf(doc: Record<string, unknown>, contentType: string): string {
  return typeof doc['mediaType'] === 'string' ? doc['mediaType'] : contentType;
}

/** Whether the document is an index (manifest list). */
export function isIndex(bytes: Buffer, contentType: string): boolean {
  const doc = json(bytes, 'manifest');
  return INDEX_TYPES.has(mediaTypeOf(doc, contentType)) || (Array.isArray(doc['manifests']) && !Array.isArray(doc['layers']));
}

/** The descriptor of the linux/amd64 manifest in an index; throws listing what the index has. */
export function pickPlatform(bytes: Buffer): Descriptor {
  const doc = json(bytes, 'image index');
  const list = Array.isArray(doc['manifests']) ? (doc['manifests'] as unknown[]) : [];
  const seen: string[] = [];
  for (const [i, entry] of list.entries()) {
    const platform = (entry as { platform?: { os?: unknown; architecture?: unknown } } | null)?.platform;
    seen.push(`${String(platform?.os)}/${String(platform?.architecture)}`);
    if (platform?.os === PULL_PLATFORM.os && platform.architecture === PULL_PLATFORM.architecture) return descriptor(entry, `index entry ${i}`);
  }
  throw new RegistryError(`the image index has no ${PULL_PLATFORM.os}/${PULL_PLATFORM.architecture} manifest (it has: ${seen.join(', ') || 'none'})`);
}

/** Reads an image manifest (OCI or Docker v2 schema 2); throws naming what is wrong. */
export function parseImageManifest(bytes: Buffer, contentType: string): ImageManifest {
  const doc = json(bytes, 'manifest');
  const mediaType = mediaTypeOf(doc, contentType);
  if (doc['schemaVersion'] !== 2) throw new RegistryError(`manifest schemaVersion ${String(doc['schemaVersion'])} is not supported (only 2)`);
  if (!MANIFEST_TYPES.has(mediaType)) throw new RegistryError(`manifest media type "${mediaType}" is not an OCI or Docker v2 image manifest`);
  if (!Array.isArray(doc['layers'])) throw new RegistryError('manifest has no layers list');
  return {
    mediaType,
    config: descriptor(doc['config'], 'manifest config'),
    layers: (doc['layers'] as unknown[]).map((l, i) => descriptor(l, `layer ${i}`)),
  };
}
