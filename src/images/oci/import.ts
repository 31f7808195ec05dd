/**
 * `image import`: an OCI image layout directory or a `docker save` archive, flattened into the
 * same content-addressed, read-only, verified image form `image build` produces (store.ts), so
 * both runtimes run it exactly like a built image. The work happens in a private directory under
 * the store's tmp/ (named with the importing pid, so `image gc` can tell an abandoned one); any
 * failure removes it, and only a complete, verified tree is renamed into the store.
 */
import { chmod, lstat, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { loadConfig } from '../../config/config.ts';
import { checkMaskedPaths } from '../masked-paths.ts';
import { manifestTree } from '../manifest.ts';
import { ensureStore, storePaths } from '../paths.ts';
import { sanitizeTree } from '../sanitize.ts';
import { commitBlob } from '../store.ts';
import { checkImageName, IMAGE_NAME_RE, writeTag } from '../tags.ts';
import { checkOrigin, localOrigin } from '../signatures/policy.ts';
import { checkTreePolicy } from '../verify.ts';
import { knownHash, newCounters } from './apply-layer.ts';
import { directoryLookup, readDockerArchive } from './docker-archive.ts';
import { ImportError } from './import-error.ts';
import { readLayout } from './layout.ts';
import type { ResolvedImage } from './layout.ts';
import { readLayer } from './read-layer.ts';
import { writeRunConfig } from './run-config.ts';
import { StagingTree } from './staging-tree.ts';
import { DEFAULT_IMPORT_LIMITS } from './types.ts';
import type { ImportedImage, ImportLimits, ImportOptions, ImportSource } from './types.ts';

/** Import metadata stored beside the manifest (as build.json, which `image ls` reads); informational. */
export interface ImportInfo {
  name: string;
  created: string;
  source: ImportSource;
  /** The source's manifest digest (see {@link ImportedImage.digest}). */
  oci_digest: string;
  layers: number;
  files: number;
  totalBytes: number;
}

/** Prefix of import work directories under the store's tmp/ (followed by the pid). */
export const IMPORT_TMP_PREFIX = 'import-';

/** A tag name from a reference or a file name (`ghcr.io/a/tool:1.2` → `tool`), or `imported`. */
export function defaultImageName(reference: string | undefined): string {
  const last = basename((reference ?? '').replace(/[@:][^/]*$/, '')).replace(/\.(tar|tgz|tar\.gz|tar\.zst|oci)$/, '');
  const name = last.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 64);
  return IMAGE_NAME_RE.test(name) ? name : 'imported';
}

async function resolveSource(path: string, work: string, limits: ImportLimits, signal?: AbortSignal): Promise<{ image: ResolvedImage; kind: ImportSource['kind'] }> {
  const st = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    throw new ImportError(`${path}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`, { cause: err });
  });
  if (st.isDirectory()) return { image: await readLayout(directoryLookup(path)), kind: 'oci-layout' };
  if (!st.isFile()) throw new ImportError(`${path}: neither a directory (OCI layout) nor a file (docker save archive)`);
  const members = join(work, 'archive');
  await mkdir(members, { mode: 0o700 });
  return { image: await readDockerArchive(path, members, limits, signal), kind: 'docker-archive' };
}

function notesFor(image: ResolvedImage, counters: ReturnType<typeof newCounters>): string[] {
  const notes: string[] = [];
  // Why: an image's user names an account of its own; sandboxes always run unprivileged whatever it says.
  if (image.config.user !== undefined) notes.push(`image user ${JSON.stringify(image.config.user)} is not used: sandboxes always run as the unprivileged sandbox user (uid 65534)`);
  else notes.push('sandboxes always run as the unprivileged sandbox user (uid 65534), not as the image user');
  if (counters.droppedSpecial > 0) notes.push(`dropped ${counters.droppedSpecial} device nodes and fifos (the runtime supplies /dev)`);
  if (counters.strippedModes > 0) notes.push(`stripped setuid/setgid from ${counters.strippedModes} entries`);
  if (counters.droppedXattrs > 0) notes.push(`dropped extended attributes (file capabilities included) of ${counters.droppedXattrs} entries`);
  return notes;
}

/**
 * Imports the image at `path` (an OCI image layout directory or a `docker save` archive, plain,
 * gzip or zstd) into the store of `options.config` and tags it. Every blob is checked against its
 * digest as it streams; hostile entries are refused or neutralised (apply-layer.ts); limits stop
 * the import as soon as one is crossed. Requires root: the stored tree must be root-owned.
 */
export async function importImage(path: string, options: ImportOptions = {}): Promise<ImportedImage> {
  const config = options.config ?? loadConfig();
  const limits: ImportLimits = { ...DEFAULT_IMPORT_LIMITS, ...config.imageImport, ...options.limits };
  const name = options.name ?? defaultImageName(options.source?.reference ?? path);
  checkImageName(name);
  // Why before the archive is read: an image the policy forbids is refused with nothing touched or left.
  // A pull asked for its registry origin before fetching anything (registry/pull.ts).
  if (options.source?.kind !== 'registry') checkOrigin(config.imagePolicy, localOrigin(name));
  const paths = storePaths(config);
  await ensureStore(paths);
  const work = await mkdtemp(join(paths.tmp, `${IMPORT_TMP_PREFIX}${process.pid}-`));
  let committed = false;
  try {
    const { image, kind } = await resolveSource(path, work, limits, options.signal);
    const source: ImportSource = options.source ?? { kind, reference: path };
    if (image.layers.length > limits.maxLayers) throw new ImportError(`${image.layers.length} layers; the limit is ${limits.maxLayers}`);
    const rootfs = join(work, 'rootfs');
    await mkdir(rootfs, { mode: 0o755 });
    const tree = new StagingTree(rootfs);
    const counters = newCounters();
    let bytes = 0;
    const progress = (layersDone: number): void => options.onProgress?.({ layers: image.layers.length, layersDone, bytes });
    for (const [i, layer] of image.layers.entries()) {
      progress(i);
      await readLayer(tree, i, layer, limits, counters, {
        onBytes: (n) => {
          bytes += n;
          progress(i);
        },
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      });
    }
    progress(image.layers.length);
    await rm(join(work, 'archive'), { recursive: true, force: true });
    // sanitize.ts writes etc/resolv.conf and friends: an image without etc/ gets an empty one.
    if (tree.find(['etc']) === undefined) await mkdir(join(rootfs, 'etc'), { mode: 0o755 });
    await sanitizeTree(rootfs);
    await writeRunConfig(rootfs, image.config);
    checkMaskedPaths(rootfs);
    // The files' hashes were taken as they were written (the staging directory is root-only): not re-read.
    const manifest = await manifestTree(rootfs, { knownHash: (path) => knownHash(counters, path) });
    const violations = checkTreePolicy(manifest.entries);
    if (violations.length > 0) throw new ImportError(`image tree violates the store policy: ${violations.join('; ')}`);
    await writeFile(join(work, 'manifest.json'), manifest.bytes, { mode: 0o644 });
    const info: ImportInfo = {
      name,
      created: new Date().toISOString(),
      source,
      oci_digest: image.digest,
      layers: image.layers.length,
      files: manifest.files,
      totalBytes: manifest.totalBytes,
    };
    await writeFile(join(work, 'build.json'), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o644 });
    // The members' directory is gone; the work directory itself becomes the blob, which the
    // sandbox's unprivileged uid must be able to traverse (mkdtemp made it 0700).
    await chmod(work, 0o755);
    await commitBlob(paths, work, manifest.digest);
    committed = true;
    await writeTag(paths, name, manifest.digest);
    return {
      name,
      digest: image.digest,
      imageDigest: manifest.digest,
      source,
      config: image.config,
      layers: image.layers.length,
      files: manifest.files,
      totalBytes: manifest.totalBytes,
      notes: notesFor(image, counters),
    };
  } finally {
    if (!committed) await rm(work, { recursive: true, force: true });
  }
}
