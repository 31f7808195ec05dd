/**
 * A microvm guest's memory, read from the host: the guest's RAM is one mapping of its VMM (found
 * by its exact size among the VMM's read-write mappings), read from /proc/PID/mem while the VMM
 * is frozen. Only pages that are not all zero are kept, in RAM order, at most `maxBytes`; the
 * index gives each kept run's offset in guest RAM (on microvm, the guest-physical address below
 * 3 GiB) and its place in the dump. Raw bytes, like the namespace dump: strings, keys and
 * injected code can be searched for with no tool of ours, and the guest's own kernel structures
 * are there for a memory-analysis tool given the guest kernel.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { DumpedRange } from './memory.ts';

const PAGE = 4096;
const CHUNK = 1 << 20;
const ZERO_PAGE = Buffer.alloc(PAGE);

/** The dump of a guest's RAM. */
export interface GuestRamDump {
  pid: number;
  /** The VMM's mapping the RAM was read from. */
  mapping: string;
  ram_bytes: number;
  max_bytes: number;
  /** All-zero pages read and left out. */
  zero_pages: number;
  /** Set when the bound was reached before the end of the RAM. */
  truncated?: string;
  ranges: DumpedRange[];
  bytes: Buffer;
}

/** The start address of the one read-write private mapping of exactly `bytes`, or why there is none. */
export function findGuestRam(maps: string, bytes: number): { start: bigint; line: string } | { reason: string } {
  const found: { start: bigint; line: string }[] = [];
  for (const line of maps.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S+)/.exec(line);
    if (m === null || !(m[3] as string).startsWith('rw')) continue;
    const start = BigInt(`0x${m[1] as string}`);
    if (BigInt(`0x${m[2] as string}`) - start === BigInt(bytes)) found.push({ start, line: line.trim() });
  }
  // Why refuse two: a dump of the wrong mapping would be presented as the guest's memory.
  if (found.length !== 1) return { reason: `the VMM has ${found.length} read-write mappings of the guest's RAM size (${bytes} bytes); expected exactly one` };
  return found[0] as { start: bigint; line: string };
}

/** Dumps the non-zero pages of the guest RAM mapped at `start` in `pid`, up to `maxBytes` kept. */
export function dumpGuestRam(pid: number, start: bigint, mapping: string, ramBytes: number, maxBytes: number): GuestRamDump {
  const dump: GuestRamDump = { pid, mapping, ram_bytes: ramBytes, max_bytes: maxBytes, zero_pages: 0, ranges: [], bytes: Buffer.alloc(0) };
  const chunks: Buffer[] = [];
  let kept = 0;
  let run: DumpedRange | undefined;
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    const buf = Buffer.alloc(CHUNK);
    for (let offset = 0; offset < ramBytes; offset += CHUNK) {
      const got = readSync(fd, buf, 0, Math.min(CHUNK, ramBytes - offset), start + BigInt(offset));
      for (let page = 0; page + PAGE <= got; page += PAGE) {
        const bytes = buf.subarray(page, page + PAGE);
        if (bytes.equals(ZERO_PAGE)) {
          dump.zero_pages++;
          run = undefined;
          continue;
        }
        if (kept + PAGE > maxBytes) {
          dump.truncated = `size bound reached at RAM offset 0x${(offset + page).toString(16)}`;
          return finish(dump, chunks);
        }
        const at = offset + page;
        if (run === undefined) {
          run = { start: `0x${at.toString(16)}`, end: `0x${at.toString(16)}`, perms: 'rw-p', path: 'guest RAM', offset: kept, length: 0 };
          dump.ranges.push(run);
        }
        run.length += PAGE;
        run.end = `0x${(at + PAGE).toString(16)}`;
        chunks.push(Buffer.from(bytes));
        kept += PAGE;
      }
      if (got < Math.min(CHUNK, ramBytes - offset)) {
        dump.truncated = `the mapping could be read only to RAM offset 0x${(offset + got).toString(16)}`;
        break;
      }
    }
  } finally {
    closeSync(fd);
  }
  return finish(dump, chunks);
}

function finish(dump: GuestRamDump, chunks: Buffer[]): GuestRamDump {
  dump.bytes = Buffer.concat(chunks);
  return dump;
}
