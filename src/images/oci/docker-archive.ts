/**
 * A `docker save` archive (or any tar of an OCI layout). Its members are copied to numbered files
 * in the import's private directory: member names only ever index an in-memory table, so a hostile
 * archive's names can't reach a host path. Symlinks and hard links between members (older docker
 * versions link duplicate layers) are resolved inside the archive's own names.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Transform } from 'node:stream';
import { extract } from 'tar-stream';
import { byteCap, decompressor, openBlob, readSmallBlob } from './blob-stream.ts';
import type { BlobRef } from './blob-stream.ts';
import { entryParts } from './entry-path.ts';
import { parseImageConfig } from './image-config.ts';
import { ImportError } from './import-error.ts';
import { readLayout } from './layout.ts';
import type { FileLookup, ResolvedImage } from './layout.ts';
import type { LayerSource } from './read-layer.ts';
import type { ImportLimits } from './types.ts';

interface Members {
  files: Map<string, BlobRef>;
  links: Map<string, string>;
}

/** Members at least this large in an uncompressed archive are read in place (the layers), never copied. */
const IN_PLACE_BYTES = 64 * 1024;

async function unpackMembers(archive: string, dir: string, limits: ImportLimits, signal?: AbortSignal): Promise<Members> {
  const { stream, compression } = await openBlob({ path: archive }, `archive ${archive}`);
  const members: Members = { files: new Map(), links: new Map() };
  const stages: Transform[] = [];
  const d = decompressor(compression);
  if (d !== undefined) stages.push(d);
  stages.push(byteCap(limits.maxUnpackedBytes + 1024 * 1024, `archive ${archive}`));
  const tar = extract();
  const flowing = pipeline([stream, ...stages, tar], signal === undefined ? {} : { signal });
  // Handled here too: it may fail while entries are still being applied, before it is awaited.
  flowing.catch(() => {});
  let n = 0;
  try {
    for await (const entry of tar) {
      const { header } = entry;
      const name = entryParts(header.name, 'archive member').join('/');
      if (members.files.has(name) || members.links.has(name)) throw new ImportError(`archive member ${JSON.stringify(header.name)}: duplicate entry`);
      if (++n > limits.maxEntries) throw new ImportError(`archive: more than ${limits.maxEntries} members`);
      const byteOffset = (header as typeof header & { byteOffset?: number }).byteOffset;
      if ((header.type === 'file' || header.type === 'contiguous-file') && compression === 'none' && byteOffset !== undefined && header.size >= IN_PLACE_BYTES) {
        // Why in place: copying a 250 MiB archive's layers out first doubles the disk traffic; the
        // archive is read again at this range, and every byte is still checked against its digest.
        members.files.set(name, { path: archive, start: byteOffset, length: header.size });
      } else if (header.type === 'file' || header.type === 'contiguous-file') {
        const path = join(dir, `m${n}`);
        const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        try {
          for await (const chunk of entry) await fh.write(chunk as Buffer);
        } finally {
          await fh.close();
        }
        members.files.set(name, { path });
      } else if (header.type === 'symlink') {
        // Resolved against the link's own directory, inside the archive's names only.
        members.links.set(name, entryParts(posix.join(posix.dirname(name), header.linkname ?? ''), `archive symlink ${JSON.stringify(header.name)} ->`).join('/'));
      } else if (header.type === 'link') {
        members.links.set(name, entryParts(header.linkname ?? '', `archive hard link ${JSON.stringify(header.name)} ->`).join('/'));
      } else if (header.type !== 'directory') {
        throw new ImportError(`archive member ${JSON.stringify(header.name)}: unsupported entry type ${String(header.type)}`);
      }
      entry.resume();
    }
  } catch (err) {
    stream.destroy();
    tar.destroy();
    await flowing.catch(() => {});
    throw err;
  }
  await flowing;
  return members;
}

function lookup(members: Members): FileLookup {
  return (name: string) => {
    let key = entryParts(name).join('/');
    // Why: a bounded number of hops: a link cycle in a hostile archive must not spin forever.
    for (let hops = 0; hops < 8; hops++) {
      const blob = members.files.get(key);
      if (blob !== undefined) return Promise.resolve(blob);
      const next = members.links.get(key);
      if (next === undefined) break;
      key = next;
    }
    return Promise.reject(new ImportError(`archive has no member ${JSON.stringify(name)}`));
  };
}

/** docker's own manifest.json (archives without an OCI index): the config is named by its digest. */
async function readDockerManifest(files: FileLookup): Promise<ResolvedImage> {
  let doc: unknown;
  try {
    doc = JSON.parse((await readSmallBlob(await files('manifest.json'), 'manifest.json')).toString('utf8'));
  } catch (err) {
    if (err instanceof ImportError) throw err;
    throw new ImportError(`manifest.json: not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!Array.isArray(doc) || doc.length !== 1) throw new ImportError(`manifest.json: ${Array.isArray(doc) ? doc.length : 'no'} images; import archives of exactly one image`);
  const entry = doc[0] as { Config?: unknown; Layers?: unknown };
  if (typeof entry.Config !== 'string' || !Array.isArray(entry.Layers) || !entry.Layers.every((l) => typeof l === 'string')) {
    throw new ImportError('manifest.json: Config and Layers are missing');
  }
  // Why: the config's name is its digest (`<hex>.json` or `blobs/sha256/<hex>`): that is what binds it.
  const hex = /(?:^|\/)([0-9a-f]{64})(?:\.json)?$/.exec(entry.Config)?.[1];
  if (hex === undefined) throw new ImportError(`manifest.json: config ${JSON.stringify(entry.Config)} is not named by its digest`);
  const digest = `sha256:${hex}`;
  const label = `config ${entry.Config}`;
  const config = parseImageConfig(await readSmallBlob(await files(entry.Config), label, 4 * 1024 * 1024, { digest, label }), label);
  const layerNames = entry.Layers as string[];
  // Why: layers in a docker archive carry no digest of their own; the config's diff ids bind them.
  if (config.diffIds.length !== layerNames.length) throw new ImportError(`${label}: ${config.diffIds.length} diff ids for ${layerNames.length} layers`);
  const layers: LayerSource[] = [];
  for (const [i, name] of layerNames.entries()) {
    const diffId = config.diffIds[i];
    layers.push({ blob: await files(name), label: `layer ${i + 1} (${name})`, ...(diffId !== undefined ? { diffId } : {}) });
  }
  return { digest, config: config.run, layers };
}

/**
 * Unpacks the archive's members into `dir` and resolves its image: through its OCI index when it
 * has one (docker 25 and later write both), else through docker's manifest.json.
 */
export async function readDockerArchive(archive: string, dir: string, limits: ImportLimits, signal?: AbortSignal): Promise<ResolvedImage> {
  const members = await unpackMembers(archive, dir, limits, signal);
  const files = lookup(members);
  if (members.files.has('index.json')) {
    const image = await readLayout(files);
    // Why: docker's classic loader reads manifest.json, containerd's (and this import) index.json; an
    // archive whose two name different images would be one image to `docker load` and another here.
    if (members.files.has('manifest.json') && !sameImage(image, await readDockerManifest(files))) {
      throw new ImportError(`${archive}: index.json and manifest.json name different images (layers or run config differ)`);
    }
    return image;
  }
  if (members.files.has('manifest.json')) return readDockerManifest(files);
  throw new ImportError(`${archive}: neither an OCI layout (index.json) nor a docker save archive (manifest.json)`);
}

/** Whether two readings of an archive are one image: the same layer contents (diff ids, each checked when read) and run config. */
function sameImage(a: ResolvedImage, b: ResolvedImage): boolean {
  const diffIds = (image: ResolvedImage) => JSON.stringify(image.layers.map((l) => l.diffId ?? null));
  return diffIds(a) === diffIds(b) && JSON.stringify(a.config) === JSON.stringify(b.config);
}

/** Member lookup for an OCI layout directory: a regular file under it (opened without following a symlink). */
export function directoryLookup(dir: string): FileLookup {
  return (name: string) => Promise.resolve({ path: join(dir, ...entryParts(name)) });
}
