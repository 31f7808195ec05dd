/**
 * Test fixtures: OCI image layouts and `docker save` archives assembled in memory with tar-stream,
 * hostile ones included. Nothing here comes from outside the machine.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { pack } from 'tar-stream';
import type { Header } from 'tar-stream';

/** One tar entry: a header (name, type, mode, linkname, pax…) and its data for files. */
export interface TarEntry {
  header: Partial<Header> & { name: string };
  data?: Buffer | string;
}

/** A tar archive of `entries`, in order (duplicates and hostile names are kept as given). */
export async function tarOf(entries: readonly TarEntry[]): Promise<Buffer> {
  const p = pack();
  const out: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of p) out.push(Buffer.from(chunk as Uint8Array));
  })();
  for (const e of entries) {
    const isFile = e.header.type === undefined || e.header.type === 'file';
    // A file entry without data is an empty file (pack waits for data on a file entry otherwise).
    const data = e.data === undefined ? (isFile ? Buffer.alloc(0) : undefined) : Buffer.from(e.data);
    const header = { mode: 0o644, ...(data !== undefined ? { size: data.length } : {}), ...e.header };
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (data !== undefined) p.entry(header, data, cb);
      else p.entry(header, cb);
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(out);
}

/** `sha256:<hex>` of bytes. */
export function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Options of the fixture writers. */
export interface FixtureOptions {
  compression?: 'gzip' | 'zstd' | 'none';
  /** `config.config` of the image config (Entrypoint, Cmd, Env, WorkingDir, User). */
  run?: Record<string, unknown>;
  architecture?: string;
  /** Replaces the digest of layer i in the manifest (a lie about a blob). */
  lieAboutLayer?: number;
}

function compress(tar: Buffer, c: FixtureOptions['compression']): Buffer {
  if (c === 'gzip') return gzipSync(tar);
  if (c === 'zstd') return zstdCompressSync(tar);
  return tar;
}

function imageConfig(layers: readonly Buffer[], o: FixtureOptions): Buffer {
  return Buffer.from(JSON.stringify({
    architecture: o.architecture ?? 'amd64',
    os: 'linux',
    config: o.run ?? {},
    rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256(l)) },
  }));
}

/** Writes an OCI image layout of `layers` (uncompressed tars) into `dir`; returns the manifest digest. */
export async function writeOciLayout(dir: string, layers: readonly Buffer[], o: FixtureOptions = {}): Promise<string> {
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const put = async (bytes: Buffer): Promise<string> => {
    const d = sha256(bytes);
    await writeFile(join(blobs, d.slice(7)), bytes);
    return d;
  };
  const config = imageConfig(layers, o);
  const configDigest = await put(config);
  const suffix = o.compression === 'zstd' ? '+zstd' : o.compression === 'none' ? '' : '+gzip';
  const layerDescs = [];
  for (const [i, l] of layers.entries()) {
    const blob = compress(l, o.compression ?? 'gzip');
    const digest = await put(blob);
    layerDescs.push({ mediaType: `application/vnd.oci.image.layer.v1.tar${suffix}`, digest: i === o.lieAboutLayer ? sha256(`not ${digest}`) : digest, size: blob.length });
  }
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: layerDescs,
  }));
  const manifestDigest = await put(manifest);
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: manifest.length }],
  }));
  return manifestDigest;
}

/** A legacy `docker save` archive (manifest.json, `<hex>.json` config, `<id>/layer.tar`); returns it and the config digest. */
export async function dockerArchive(layers: readonly Buffer[], o: FixtureOptions = {}): Promise<{ archive: Buffer; configDigest: string }> {
  const config = imageConfig(layers, o);
  const configDigest = sha256(config);
  const layerNames = layers.map((l) => `${sha256(l).slice(7)}/layer.tar`);
  const entries: TarEntry[] = layers.map((l, i) => ({ header: { name: layerNames[i] ?? '' }, data: l }));
  entries.push({ header: { name: `${configDigest.slice(7)}.json` }, data: config });
  entries.push({ header: { name: 'manifest.json' }, data: JSON.stringify([{ Config: `${configDigest.slice(7)}.json`, RepoTags: ['fixture:latest'], Layers: layerNames }]) });
  return { archive: await tarOf(entries), configDigest };
}

/**
 * A small static rootfs layer: Debian's static busybox as /bin/busybox with sh, echo, cat, id,
 * ls, env and pwd linked to it, plus etc/. Undefined when busybox-static is not installed.
 */
export async function busyboxLayer(): Promise<Buffer | undefined> {
  let busybox: Buffer;
  try {
    busybox = await readFile('/bin/busybox');
  } catch {
    return undefined;
  }
  const dir = (name: string): TarEntry => ({ header: { name, type: 'directory', mode: 0o755 } });
  const links = ['sh', 'echo', 'cat', 'id', 'ls', 'env', 'pwd', 'stat'].map((n): TarEntry => ({ header: { name: `bin/${n}`, type: 'symlink', linkname: 'busybox' } }));
  return tarOf([dir('bin/'), { header: { name: 'bin/busybox', mode: 0o755 }, data: busybox }, ...links, dir('etc/'), { header: { name: 'etc/passwd' }, data: 'root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n' }]);
}
