/**
 * What the store keeps beside an image for its policy: where it came from (`origins.json`) and the
 * signatures found or made for it (`signatures/<sha256>.json`), in the image's blob directory:
 *
 *   blobs/sha256/<hex>/origins.json            [{ origin, reference, manifestDigest, indexDigest? }]
 *   blobs/sha256/<hex>/signatures/<hex>.json   { format, payload, signature, source }
 *
 * Neither is trusted on its own: a signature is verified with the policy's keys on every use, and
 * an origin only says which rule applies (the store is root-owned, like the image itself).
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ControlError } from '../../host/control-error.ts';
import { isDigest } from '../manifest.ts';
import { blobDir, type StorePaths } from '../paths.ts';

/** A signature kept beside an image. */
export interface SignatureRecord {
  /** `cosign`: fetched from the registry's `sha256-<digest>.sig` tag; `airlock`: written by `image sign`. */
  format: 'cosign' | 'airlock';
  /** The simple-signing payload, base64. */
  payload: string;
  /** The signature over the payload, base64. */
  signature: string;
  /** Where it came from (a registry reference, or the signing key file). */
  source: string;
}

/** Where a stored image came from. */
export interface ImageOrigin {
  /** `REGISTRY/REPOSITORY`: what the policy's rules match. */
  origin: string;
  /** The full reference that was pulled. */
  reference: string;
  /** The registry manifest digest the image was pulled by (what cosign signatures are bound to). */
  manifestDigest: string;
  /** The index (manifest list) digest the reference resolved to, when it was one: cosign signs that one for multi-platform images. */
  indexDigest?: string | undefined;
}

/** Most signatures read for one image. Why: a store filled with records must not stall every start. */
const MAX_SIGNATURES = 64;
/** Largest record read. */
const MAX_RECORD_BYTES = 64 * 1024;

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, path);
}

/** Keeps a signature beside the image `digest` (idempotent: the file is named by its content). */
export async function saveSignature(paths: StorePaths, digest: string, record: SignatureRecord): Promise<string> {
  const dir = join(blobDir(paths, digest), 'signatures');
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const text = `${JSON.stringify(record)}\n`;
  const file = join(dir, `${createHash('sha256').update(text).digest('hex')}.json`);
  await writeAtomic(file, text);
  return file;
}

/** The signatures kept beside an image (malformed records are skipped: they could verify nothing). */
export async function readSignatures(paths: StorePaths, digest: string): Promise<SignatureRecord[]> {
  const dir = join(blobDir(paths, digest), 'signatures');
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /^[0-9a-f]{64}\.json$/.test(n)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ControlError('image_policy', `cannot read the signatures of ${digest}: ${(err as Error).message}`, { cause: err });
  }
  const out: SignatureRecord[] = [];
  for (const name of names.slice(0, MAX_SIGNATURES)) {
    const bytes = await readFile(join(dir, name));
    if (bytes.length > MAX_RECORD_BYTES) continue;
    try {
      const r = JSON.parse(bytes.toString('utf8')) as Partial<SignatureRecord>;
      if ((r.format === 'cosign' || r.format === 'airlock') && typeof r.payload === 'string' && typeof r.signature === 'string') {
        out.push({ format: r.format, payload: r.payload, signature: r.signature, source: typeof r.source === 'string' ? r.source : '' });
      }
    } catch {
      // Not JSON: it can vouch for nothing, so it is as good as absent.
    }
  }
  return out;
}

/** Adds an origin to the image `digest` (the same content may be pulled from several places). */
export async function saveOrigin(paths: StorePaths, digest: string, origin: ImageOrigin): Promise<void> {
  if (!isDigest(origin.manifestDigest)) throw new ControlError('image', `not a sha256 digest: ${origin.manifestDigest}`);
  const known = (await readOrigins(paths, digest)).filter((o) => !(o.origin === origin.origin && o.manifestDigest === origin.manifestDigest));
  await writeAtomic(join(blobDir(paths, digest), 'origins.json'), `${JSON.stringify([...known, origin], null, 2)}\n`);
}

/** The recorded origins of an image; empty for one built or imported on this host. */
export async function readOrigins(paths: StorePaths, digest: string): Promise<ImageOrigin[]> {
  let text: string;
  try {
    text = await readFile(join(blobDir(paths, digest), 'origins.json'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ControlError('image_policy', `cannot read the origins of ${digest}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const list = JSON.parse(text) as unknown;
    if (!Array.isArray(list)) throw new Error('not a list');
    return list.filter(
      (o): o is ImageOrigin => typeof o === 'object' && o !== null && typeof (o as ImageOrigin).origin === 'string' && typeof (o as ImageOrigin).reference === 'string' && isDigest(String((o as ImageOrigin).manifestDigest)),
    );
  } catch (err) {
    // Why fail closed: an unreadable origin could otherwise fall back to a laxer local/NAME rule.
    throw new ControlError('image_policy', `origins.json of ${digest} is corrupt: ${(err as Error).message}`);
  }
}
