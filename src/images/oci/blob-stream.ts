/**
 * Reading a blob (a layer, a config, a manifest) with its digest checked as it streams, and a
 * layer's compression recognised by its first bytes (gzip, zstd or a plain tar).
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { ImportError } from './import-error.ts';

/** What a blob must hash to: `sha256:<hex>` and, when known, its exact size. */
export interface Expected {
  digest: string;
  size?: number;
  /** Names the blob in errors (`layer 2 (sha256:…)`). */
  label: string;
}

/**
 * A pass-through that hashes what flows and fails at the end when the digest differs, or as soon
 * as more bytes arrive than the descriptor declared (an oversized blob is not read to its end).
 */
export function digestCheck(expected: Expected, onBytes?: (n: number) => void): Transform {
  const [algorithm, hex] = expected.digest.split(':');
  // Why: only sha256 is accepted: a weaker or unknown algorithm would make the check meaningless.
  if (algorithm !== 'sha256' || hex === undefined || !/^[0-9a-f]{64}$/.test(hex)) {
    throw new ImportError(`${expected.label}: unsupported digest ${JSON.stringify(expected.digest)}`);
  }
  const hash = createHash('sha256');
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (expected.size !== undefined && size > expected.size) {
        done(new ImportError(`${expected.label}: blob is larger than the ${expected.size} bytes its descriptor declares`));
        return;
      }
      hash.update(chunk);
      onBytes?.(chunk.length);
      done(null, chunk);
    },
    flush(done) {
      const actual = `sha256:${hash.digest('hex')}`;
      if (expected.size !== undefined && size !== expected.size) done(new ImportError(`${expected.label}: blob is ${size} bytes, its descriptor declares ${expected.size}`));
      else if (actual !== expected.digest) done(new ImportError(`${expected.label}: digest mismatch: blob hashes to ${actual}, manifest says ${expected.digest}`));
      else done();
    },
  });
}

/** Counts bytes and fails as soon as more than `max` have passed (a decompression bomb stops here). */
export function byteCap(max: number, label: string): Transform {
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > max) done(new ImportError(`${label}: decompresses to more than ${max} bytes (limit of unpacked bytes)`));
      else done(null, chunk);
    },
  });
}

/** Compression of a layer, told by its magic bytes (media types can lie; the bytes can't). */
export type Compression = 'gzip' | 'zstd' | 'none';

/**
 * A blob on disk: a whole file, or `length` bytes of one from `start` (a member of an uncompressed
 * archive, read in place instead of copied out).
 */
export interface BlobRef {
  path: string;
  start?: number;
  length?: number;
}

/** Opens a blob without following a symlink in its place, and reads its first bytes. */
export async function openBlob(ref: BlobRef, label: string): Promise<{ stream: Readable; compression: Compression }> {
  let fh;
  try {
    fh = await open(ref.path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    throw new ImportError(`${label}: cannot open blob: ${(err as Error).message}`, { cause: err });
  }
  const start = ref.start ?? 0;
  const head = Buffer.alloc(4);
  const { bytesRead } = await fh.read(head, 0, Math.min(4, ref.length ?? 4), start);
  let compression: Compression = 'none';
  if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) compression = 'gzip';
  else if (bytesRead === 4 && head.readUInt32LE(0) === 0xfd2fb528) compression = 'zstd';
  if (ref.length === 0) {
    await fh.close();
    return { stream: Readable.from([]), compression };
  }
  const end = ref.length === undefined ? undefined : start + ref.length - 1;
  return { stream: fh.createReadStream({ start, ...(end !== undefined ? { end } : {}), highWaterMark: 1024 * 1024 }), compression };
}

/** The decompressor for `compression`, or undefined for a plain tar. */
export function decompressor(compression: Compression): Transform | undefined {
  if (compression === 'gzip') return createGunzip({ chunkSize: 256 * 1024 });
  if (compression === 'zstd') return createZstdDecompress({ chunkSize: 256 * 1024 });
  return undefined;
}

/** Reads a small blob whole (a manifest, an index, a config), refusing one over `max` bytes. */
export async function readSmallBlob(ref: BlobRef, label: string, max = 4 * 1024 * 1024, expected?: Expected): Promise<Buffer> {
  const { stream } = await openBlob(ref, label);
  const chunks: Buffer[] = [];
  let size = 0;
  const check = expected === undefined ? undefined : digestCheck(expected);
  const source = check === undefined ? stream : stream.pipe(check);
  stream.on('error', (err) => check?.destroy(err));
  for await (const chunk of source) {
    size += (chunk as Buffer).length;
    // Why: a JSON document this large is not a manifest; refusing it bounds memory.
    if (size > max) {
      stream.destroy();
      throw new ImportError(`${label}: larger than ${max} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
