/**
 * Applies one uncompressed layer tar onto the staging tree, the way an overlay stack would see it:
 * later layers replace entries, whiteouts delete, opaque markers hide what lower layers left.
 *
 * This runs as host root (the stored tree must be root-owned), with care instead of a lower uid:
 * every name is checked lexically (entry-path.ts), every parent is one this import created as a
 * real directory (staging-tree.ts), files are created O_CREAT|O_EXCL|O_NOFOLLOW and links made
 * with link/symlink (which never follow the new name), so no host path outside the staging
 * directory is ever written. An unprivileged extractor would need the same checks and a chown pass.
 *
 * The file calls are synchronous: an entry is a handful of syscalls, and a round trip through the
 * thread pool for each cost more than the work (an import of the default image waited 8 of 13 s).
 * Imports run in the CLI process, never on the controller's event loop.
 */
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, constants, fchmodSync, fstatSync, linkSync, lstatSync, mkdirSync, openSync, rmSync, symlinkSync, writeSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import type { Extract, Header } from 'tar-stream';
import { ImportError } from './import-error.ts';
import { checkSymlinkTarget, entryParts, OPAQUE_MARKER, whiteoutTarget } from './entry-path.ts';
import type { StagedNode, StagingTree } from './staging-tree.ts';
import { checkGlobalHeader, watchTarReader } from './tar-agreement.ts';
import type { ImportLimits } from './types.ts';

/** Running totals over every layer of one import (limits are checked against them). */
export interface ImportCounters {
  entries: number;
  bytes: number;
  droppedSpecial: number;
  strippedModes: number;
  droppedXattrs: number;
  /** Hashes of the files written (`dev:ino` → content hash, size and ctime): see {@link knownHash}. */
  fileHashes: Map<string, WrittenHash>;
}

/** A content hash taken while writing a file, and the inode's ctime right after. */
export interface WrittenHash {
  sha256: string;
  size: number;
  ctimeNs: bigint;
}

/**
 * The hash taken at write of the file at `path`, when it is still that very file: same inode,
 * size and ctime (any later chmod, chown or a new file on a reused inode changes the ctime).
 */
export async function knownHash(counters: ImportCounters, path: string): Promise<{ sha256: string; size: number } | undefined> {
  const st = await lstat(path, { bigint: true });
  const written = counters.fileHashes.get(`${st.dev}:${st.ino}`);
  if (written === undefined || written.ctimeNs !== st.ctimeNs || BigInt(written.size) !== st.size) return undefined;
  return { sha256: written.sha256, size: written.size };
}

/** New, zeroed counters. */
export function newCounters(): ImportCounters {
  return { entries: 0, bytes: 0, droppedSpecial: 0, strippedModes: 0, droppedXattrs: 0, fileHashes: new Map() };
}

/** One tar entry as the parser hands it over (its header and its data). */
type Entry = Extract extends AsyncIterable<infer S> ? S : never;

interface LayerContext {
  tree: StagingTree;
  layer: number;
  limits: ImportLimits;
  counters: ImportCounters;
  /** Paths written by this layer (a second entry for one path is refused). */
  seen: Set<string>;
}

// Why: setuid/setgid would be a privilege path (defence in depth under no_new_privs), and
// group/world write breaks the store's floor; sticky and the owner's bits are kept.
const MODE_KEEP = 0o1755;

/** Entry types that carry no data in Go's archive/tar (its isHeaderOnlyType). */
const HEADER_ONLY: ReadonlySet<string> = new Set(['symlink', 'link', 'character-device', 'block-device', 'fifo', 'directory']);

function modeOf(header: Header, fallback: number, ctx: LayerContext): number {
  const mode = (header.mode ?? fallback) & 0o7777;
  if ((mode & 0o6000) !== 0) ctx.counters.strippedModes++;
  return mode & MODE_KEEP;
}

async function removeNode(ctx: LayerContext, parent: StagedNode, parts: readonly string[]): Promise<void> {
  const name = parts[parts.length - 1] ?? '';
  if (parent.children?.get(name) === undefined) return;
  // rm never follows a symlink it meets: it unlinks the link itself.
  rmSync(ctx.tree.pathOf(parts), { recursive: true, force: true });
  ctx.tree.remove(parent, name);
}

/** The parent directory of `parts`, creating missing ones (0755) as real directories. */
async function parentOf(ctx: LayerContext, parts: readonly string[], entryName: string): Promise<StagedNode> {
  let node = ctx.tree.top;
  for (let i = 0; i < parts.length - 1; i++) {
    const sub = parts.slice(0, i + 1);
    const next = ctx.tree.dirAt(sub, ctx.layer, entryName);
    if (next !== undefined) {
      node = next;
      continue;
    }
    mkdirSync(ctx.tree.pathOf(sub), { mode: 0o755 });
    node = ctx.tree.add(node, parts[i] ?? '', 'dir', ctx.layer);
  }
  return node;
}

/** Hides everything lower layers left below `dir` that this layer did not write (opaque marker). */
async function makeOpaque(ctx: LayerContext, dir: StagedNode, dirParts: readonly string[]): Promise<void> {
  for (const [name, child] of [...(dir.children ?? [])]) {
    if (child.layer < ctx.layer) await removeNode(ctx, dir, [...dirParts, name]);
    else if (child.kind === 'dir') await makeOpaque(ctx, child, [...dirParts, name]);
  }
}

async function writeFileEntry(ctx: LayerContext, path: string, mode: number, entry: Entry, declared: number, entryName: string): Promise<void> {
  // Why: a decompression bomb is stopped on the header, before a single byte of it is written.
  if (ctx.counters.bytes + declared > ctx.limits.maxUnpackedBytes) {
    throw new ImportError(`entry ${JSON.stringify(entryName)} (${declared} bytes) crosses the limit of ${ctx.limits.maxUnpackedBytes} unpacked bytes`);
  }
  // Why: O_EXCL|O_NOFOLLOW: the name was just removed; anything there now is not followed or reused.
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of entry) {
      const buf = chunk as Buffer;
      ctx.counters.bytes += buf.length;
      if (ctx.counters.bytes > ctx.limits.maxUnpackedBytes) throw new ImportError(`entry ${JSON.stringify(entryName)} crosses the limit of ${ctx.limits.maxUnpackedBytes} unpacked bytes`);
      hash.update(buf);
      size += buf.length;
      for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off);
    }
    fchmodSync(fd, mode);
    const st = fstatSync(fd, { bigint: true });
    ctx.counters.fileHashes.set(`${st.dev}:${st.ino}`, { sha256: hash.digest('hex'), size, ctimeNs: st.ctimeNs });
  } finally {
    closeSync(fd);
  }
}

function countXattrs(header: Header, ctx: LayerContext): void {
  const pax = header.pax;
  // Why: xattrs are never applied, so `security.capability` (file capabilities) can't survive import.
  if (pax !== null && typeof pax === 'object' && Object.keys(pax).some((k) => k.startsWith('SCHILY.xattr.') || k.startsWith('LIBARCHIVE.xattr.'))) ctx.counters.droppedXattrs++;
}

async function applyEntry(ctx: LayerContext, entry: Entry): Promise<void> {
  const { header } = entry;
  const entryName = header.name;
  if (++ctx.counters.entries > ctx.limits.maxEntries) throw new ImportError(`layer ${ctx.layer + 1}: more than ${ctx.limits.maxEntries} entries`);
  const parts = entryParts(entryName);
  // Why: Go's archive/tar (containerd, docker) reads no data after these whatever the size says, tar-stream
  // skips it: the bytes would be entries to one and hidden to the other (a whiteout scanners see and we don't).
  if (HEADER_ONLY.has(header.type ?? 'file') && (header.size ?? 0) > 0) {
    throw new ImportError(`entry ${JSON.stringify(entryName)}: a ${String(header.type)} entry declares ${header.size} bytes of data`);
  }
  // Why: with typeflag NUL (which tar-stream reports as a file too) Go and Python read a directory with no data.
  if ((header.type === 'file' || header.type === 'contiguous-file') && entryName.endsWith('/')) {
    throw new ImportError(`entry ${JSON.stringify(entryName)}: a file entry named like a directory`);
  }
  // Why: tar-stream ignores an empty PAX path/linkpath/size and keeps the header's; Go and Python take the empty one.
  const pax = (header.pax ?? {}) as Record<string, string | undefined>;
  const emptied = ['path', 'linkpath', 'size'].find((k) => pax[k] === '');
  if (emptied !== undefined) throw new ImportError(`entry ${JSON.stringify(entryName)}: empty PAX ${emptied}`);
  // Why: GNU tar, Go and Python rename a PAX sparse file to its GNU.sparse.name and expand its map; tar-stream does neither.
  if (header.pax !== null && typeof header.pax === 'object' && Object.keys(header.pax).some((k) => k.startsWith('GNU.sparse.'))) {
    throw new ImportError(`entry ${JSON.stringify(entryName)}: sparse files are not supported (GNU.sparse.* PAX records)`);
  }
  const key = parts.join('/');
  const base = parts[parts.length - 1];
  if (base === undefined) {
    // The root itself (`./`): only its mode is taken, from a directory entry.
    if (header.type === 'directory') chmodSync(ctx.tree.root, modeOf(header, 0o755, ctx));
    return;
  }
  if (ctx.seen.has(key)) {
    // Why: two entries for one path let a reader that keeps the first and one that keeps the last disagree on the image.
    throw new ImportError(`layer ${ctx.layer + 1}: duplicate entry ${JSON.stringify(entryName)}`);
  }
  ctx.seen.add(key);
  countXattrs(header, ctx);
  const parent = await parentOf(ctx, parts, entryName);
  const parentParts = parts.slice(0, -1);
  if (base === OPAQUE_MARKER) return makeOpaque(ctx, parent, parentParts);
  const deleted = whiteoutTarget(base, entryName);
  if (deleted !== undefined) return removeNode(ctx, parent, [...parentParts, deleted]);
  const path = ctx.tree.pathOf(parts);
  const existing = parent.children?.get(base);
  switch (header.type) {
    case 'directory': {
      const mode = modeOf(header, 0o755, ctx);
      if (existing?.kind === 'dir') {
        existing.layer = ctx.layer;
      } else {
        await removeNode(ctx, parent, parts);
        mkdirSync(path, { mode: 0o700 });
        ctx.tree.add(parent, base, 'dir', ctx.layer);
      }
      chmodSync(path, mode);
      return;
    }
    case 'file':
    case 'contiguous-file': {
      await removeNode(ctx, parent, parts);
      ctx.tree.add(parent, base, 'file', ctx.layer);
      return writeFileEntry(ctx, path, modeOf(header, 0o644, ctx), entry, header.size ?? 0, entryName);
    }
    case 'symlink': {
      const target = header.linkname ?? '';
      checkSymlinkTarget(parts, target);
      await removeNode(ctx, parent, parts);
      symlinkSync(target, path);
      ctx.tree.add(parent, base, 'symlink', ctx.layer);
      return;
    }
    case 'link': {
      const targetParts = entryParts(header.linkname ?? '', `hard link ${JSON.stringify(entryName)} ->`);
      // Why: only a regular file this import made may be linked; a link to anything outside the root or through a symlink is refused.
      if (ctx.tree.find(targetParts)?.kind !== 'file') {
        throw new ImportError(`hard link ${JSON.stringify(entryName)} -> ${JSON.stringify(header.linkname)}: target is not a regular file in the image`);
      }
      if (targetParts.join('/') === key) throw new ImportError(`hard link ${JSON.stringify(entryName)}: links to itself`);
      await removeNode(ctx, parent, parts);
      linkSync(ctx.tree.pathOf(targetParts), path);
      ctx.tree.add(parent, base, 'file', ctx.layer);
      // link(2) moved the inode's ctime: the hash taken at write still describes its content.
      const st = lstatSync(path, { bigint: true });
      const written = ctx.counters.fileHashes.get(`${st.dev}:${st.ino}`);
      if (written !== undefined) written.ctimeNs = st.ctimeNs;
      return;
    }
    case 'character-device':
    case 'block-device':
    case 'fifo':
      // Why: the runtime supplies /dev; an image's device nodes and fifos are dropped, never created.
      ctx.counters.droppedSpecial++;
      return;
    default:
      throw new ImportError(`entry ${JSON.stringify(entryName)}: unsupported tar entry type ${String(header.type)}`);
  }
}

/**
 * Reads the entries of one layer (already decompressed) from `extract` and applies them. Entry
 * data is always drained, so the tar parser can move on even when an entry is dropped.
 */
export async function applyLayer(tree: StagingTree, layer: number, extract: Extract, limits: ImportLimits, counters: ImportCounters): Promise<void> {
  const ctx: LayerContext = { tree, layer, limits, counters, seen: new Set() };
  const disagreement = watchTarReader(extract);
  for await (const entry of extract) {
    const finding = disagreement();
    if (finding !== null) throw new ImportError(`entry ${JSON.stringify(entry.header.name)} ${finding}: refused`);
    checkGlobalHeader(extract);
    await applyEntry(ctx, entry);
    entry.resume();
  }
}
