/**
 * A newc ("070701") cpio archive, the format the Linux kernel unpacks as an initramfs. Written here
 * rather than with cpio(1): the archive holds a handful of entries, and its bytes depend only on
 * them (mtime 0, fixed inode numbers), so the same inputs always give the same archive.
 */

/** One archive entry; directories before their contents. */
export type CpioEntry =
  | { kind: 'dir'; path: string; mode: number }
  | { kind: 'file'; path: string; mode: number; data: Buffer }
  | { kind: 'char'; path: string; mode: number; major: number; minor: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

function record(ino: number, name: string, mode: number, data: Buffer, rdev: { major: number; minor: number } = { major: 0, minor: 0 }): Buffer[] {
  const nameBytes = Buffer.from(`${name}\0`, 'utf8');
  const header = Buffer.from(
    '070701' +
      [ino, mode, 0, 0, 1, 0, data.length, 0, 0, rdev.major, rdev.minor, nameBytes.length, 0].map(hex8).join(''),
    'ascii',
  );
  return [header, nameBytes, pad4(header.length + nameBytes.length), data, pad4(data.length)];
}

/** The archive of `entries` (owned by root, mtime 0), ending with the TRAILER!!! record. */
export function cpioArchive(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  entries.forEach((entry, i) => {
    if (entry.path.startsWith('/') || entry.path.split('/').includes('..')) throw new Error(`cpio: bad entry path ${entry.path}`);
    const perm = entry.mode & 0o7777;
    if (entry.kind === 'dir') parts.push(...record(i + 1, entry.path, S_IFDIR | perm, Buffer.alloc(0)));
    else if (entry.kind === 'file') parts.push(...record(i + 1, entry.path, S_IFREG | perm, entry.data));
    else parts.push(...record(i + 1, entry.path, S_IFCHR | perm, Buffer.alloc(0), entry));
  });
  parts.push(...record(0, 'TRAILER!!!', 0, Buffer.alloc(0)));
  return Buffer.concat(parts);
}
