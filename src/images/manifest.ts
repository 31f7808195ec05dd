/**
 * Canonical manifest of a root filesystem tree, and the image digest computed from it.
 *
 * The manifest lists every entry (sorted by path bytes) with its type, permission bits, owner,
 * size and content hash (files) or target (symlinks). It is serialized deterministically: one
 * JSON object per line with a fixed key order, wrapped so the whole file is also valid JSON.
 * The image digest is `sha256:` + sha256 of those bytes, so two trees with the same content,
 * modes and owners always get the same digest, and any change to any of them changes it.
 * Timestamps are deliberately left out: they differ between otherwise identical builds.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';

/** Kinds of entries an image may contain; anything else (devices, fifos, sockets) is refused. */
export type EntryType = 'dir' | 'file' | 'symlink';

/** One entry of the manifest. `path` is relative to the image root; the root itself is `.`. */
export interface ManifestEntry {
  path: string;
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky (`mode & 0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  /** Content length in bytes for files; 0 for directories and symlinks. */
  size: number;
  /** Hex SHA-256 of the content (files only). */
  sha256?: string;
  /** Link target exactly as stored (symlinks only; never followed). */
  target?: string;
}

/** Result of walking and hashing a tree. */
export interface TreeManifest {
  entries: ManifestEntry[];
  /** Canonical serialized manifest (what `manifest.json` holds). */
  bytes: Buffer;
  /** `sha256:<hex>` over `bytes`. */
  digest: string;
  files: number;
  /** Sum of file sizes in bytes. */
  totalBytes: number;
  /** Milliseconds spent walking the tree and hashing file contents. */
  walkMs: number;
  hashMs: number;
}

/** Options for {@link manifestTree}. */
export interface ManifestOptions {
  /** Files hashed at the same time; bounded so a large tree can't exhaust file descriptors. */
  concurrency?: number;
  /** Called once the walk is done, before hashing starts (for progress output). */
  onWalked?: (files: number, dirs: number) => void;
  /**
   * A content hash the caller took as it wrote the file at `path` (whose lstat is `st`), used
   * instead of re-reading it; undefined: hash the file. Only for a tree nobody else can write.
   */
  knownHash?: (path: string, st: Stats) => Promise<{ sha256: string; size: number } | undefined>;
}

const MANIFEST_VERSION = 1;
const HEADER = `{"airlock_image_manifest":${MANIFEST_VERSION},"entries":[\n`;
const FOOTER = ']}\n';
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;
// Strict decoding: a name that is not valid UTF-8 would be altered when turned into a string,
// and the manifest would then describe a different path than the one on disk.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** True when `s` is a well-formed `sha256:<64 lowercase hex>` digest. */
export function isDigest(s: string): boolean {
  return DIGEST_RE.test(s);
}

/** `sha256:` + hex SHA-256 of `bytes`. */
export function digestOf(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Entries sorted by the UTF-8 bytes of their paths (locale-independent, so deterministic). */
export function sortEntries(entries: readonly ManifestEntry[]): ManifestEntry[] {
  const keyed = entries.map((e) => ({ e, k: Buffer.from(e.path, 'utf8') }));
  keyed.sort((a, b) => Buffer.compare(a.k, b.k));
  return keyed.map((x) => x.e);
}

/** One entry as a JSON line with a fixed key order (the canonical form). */
export function entryLine(e: ManifestEntry): string {
  const o: Record<string, string | number> = { path: e.path, type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, size: e.size };
  if (e.type === 'file') o['sha256'] = e.sha256 ?? '';
  if (e.type === 'symlink') o['target'] = e.target ?? '';
  return JSON.stringify(o);
}

/** Serializes entries canonically: sorted by path bytes, one line each, comma-separated. */
export function serializeManifest(entries: readonly ManifestEntry[]): Buffer {
  const sorted = sortEntries(entries);
  return Buffer.from(HEADER + sorted.map(entryLine).join(',\n') + (sorted.length > 0 ? '\n' : '') + FOOTER, 'utf8');
}

/** Parses a manifest file; refuses anything that is not in canonical form. */
export function parseManifest(bytes: Buffer): ManifestEntry[] {
  const doc = JSON.parse(bytes.toString('utf8')) as { airlock_image_manifest?: unknown; entries?: unknown };
  if (doc.airlock_image_manifest !== MANIFEST_VERSION || !Array.isArray(doc.entries)) {
    throw new Error(`not an airlock image manifest (version ${String(doc.airlock_image_manifest)})`);
  }
  const entries = doc.entries.map(checkEntry);
  // Re-serializing must give the same bytes, so a manifest can't hide fields or reorder entries.
  if (!serializeManifest(entries).equals(bytes)) throw new Error('manifest is not in canonical form');
  return entries;
}

function checkEntry(raw: unknown, i: number): ManifestEntry {
  const e = raw as Partial<ManifestEntry> | null;
  const isUint = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  const ok =
    e !== null &&
    typeof e === 'object' &&
    typeof e.path === 'string' &&
    (e.type === 'dir' || e.type === 'file' || e.type === 'symlink') &&
    isUint(e.mode) &&
    e.mode <= 0o7777 &&
    isUint(e.uid) &&
    isUint(e.gid) &&
    isUint(e.size) &&
    (e.type !== 'file' || (typeof e.sha256 === 'string' && /^[0-9a-f]{64}$/.test(e.sha256))) &&
    (e.type !== 'symlink' || typeof e.target === 'string');
  // Field types are checked here; the canonical re-serialization check catches everything else.
  if (!ok) throw new Error(`manifest entry ${i} is malformed`);
  return e as ManifestEntry;
}

function typeOf(st: Stats, path: string): EntryType {
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  // Device nodes, fifos and sockets have no place in a sandbox root: the runtime supplies /dev.
  throw new Error(`${path}: unsupported file type (device node, fifo or socket) in image`);
}

/** Hashes one regular file by streaming it; refuses to follow a symlink swapped in meanwhile. */
export async function hashFile(path: string, expected: Stats): Promise<{ sha256: string; size: number }> {
  // O_NOFOLLOW: if the file became a symlink after lstat, fail instead of hashing its target.
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const st = await fh.stat();
    if (st.ino !== expected.ino || st.dev !== expected.dev) throw new Error(`${path}: changed while hashing`);
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of fh.createReadStream({ autoClose: false, highWaterMark: 256 * 1024 })) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    return { sha256: hash.digest('hex'), size };
  } finally {
    await fh.close();
  }
}

async function walk(root: string): Promise<{ entries: ManifestEntry[]; stats: Map<ManifestEntry, Stats> }> {
  const entries: ManifestEntry[] = [];
  const stats = new Map<ManifestEntry, Stats>();
  const visit = async (rel: string): Promise<void> => {
    const abs = rel === '.' ? root : join(root, rel);
    const st = await lstat(abs);
    const type = typeOf(st, rel);
    const entry: ManifestEntry = { path: rel, type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: 0 };
    entries.push(entry);
    if (type === 'symlink') entry.target = await readlink(abs);
    if (type === 'file') stats.set(entry, st);
    if (type !== 'dir') return;
    const names = await readdir(abs, { encoding: 'buffer' });
    // Siblings in parallel: the libuv thread pool bounds how many lstat/readdir calls run at once.
    await Promise.all(
      names.map((raw) => {
        let name: string;
        try {
          name = utf8.decode(raw);
        } catch {
          throw new Error(`${rel}/${raw.toString('latin1')}: file name is not valid UTF-8`);
        }
        return visit(rel === '.' ? name : `${rel}/${name}`);
      }),
    );
  };
  await visit('.');
  return { entries, stats };
}

/**
 * Walks `root` without following symlinks, hashes every regular file (streaming, at most
 * `concurrency` at a time; hard links are hashed once), and returns the canonical manifest.
 */
export async function manifestTree(root: string, options: ManifestOptions = {}): Promise<TreeManifest> {
  const t0 = performance.now();
  const { entries, stats } = await walk(root);
  const t1 = performance.now();
  const files = entries.filter((e) => e.type === 'file');
  options.onWalked?.(files.length, entries.length - files.length);
  const byInode = new Map<string, Promise<{ sha256: string; size: number }>>();
  const queue = files.slice();
  const concurrency = Math.max(1, options.concurrency ?? 16);
  const worker = async (): Promise<void> => {
    for (let e = queue.shift(); e !== undefined; e = queue.shift()) {
      const st = stats.get(e);
      if (st === undefined) throw new Error(`${e.path}: missing stat`);
      const key = `${st.dev}:${st.ino}`;
      let p = byInode.get(key);
      if (p === undefined) {
        const path = join(root, e.path);
        const known = options.knownHash;
        p = known === undefined ? hashFile(path, st) : known(path, st).then((k) => k ?? hashFile(path, st));
        byInode.set(key, p);
      }
      const r = await p;
      e.sha256 = r.sha256;
      e.size = r.size;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, files.length)) }, worker));
  const t2 = performance.now();
  const bytes = serializeManifest(entries);
  return {
    entries: sortEntries(entries),
    bytes,
    digest: digestOf(bytes),
    files: files.length,
    totalBytes: files.reduce((n, e) => n + e.size, 0),
    walkMs: t1 - t0,
    hashMs: t2 - t1,
  };
}
