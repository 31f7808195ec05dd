/**
 * Memory of a namespace sandbox, read from the host: every process's /proc/PID/maps, and a dump of
 * the main process's readable private mappings from /proc/PID/mem, at most `maxBytes` in all. The
 * dump is raw bytes plus an index (address range, permissions, file, offset in the dump), not an
 * ELF core: enough to search for strings, keys and injected code, with no tool of ours needed.
 */
import { openSync, readSync, closeSync, readFileSync } from 'node:fs';
import type { ProcessEntry } from './processes.ts';

/** One dumped range. */
export interface DumpedRange {
  start: string;
  end: string;
  perms: string;
  path: string;
  /** Where its bytes begin in the dump file. */
  offset: number;
  length: number;
  /** Set when only part (or none) of the range is in the dump: the bound was reached or it was unreadable. */
  truncated?: string;
}

/** The dump of one process. */
export interface MemoryDump {
  pid: number;
  bytes: Buffer;
  ranges: DumpedRange[];
  max_bytes: number;
}

/** The process a dump is taken of: the one with the most resident memory (the workload, not the runtime's stubs). */
export function mainProcess(processes: readonly ProcessEntry[]): ProcessEntry | undefined {
  return [...processes].sort((a, b) => b.rss_kb - a.rss_kb || a.pid - b.pid)[0];
}

/** Reads `/proc/PID/maps`; undefined when the process is gone. */
export function readMaps(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/maps`, 'utf8');
  } catch {
    return undefined;
  }
}

const CHUNK = 1 << 20;

/** Dumps the readable mappings of `pid` up to `maxBytes`, in address order. */
export function dumpMemory(pid: number, maps: string, maxBytes: number): MemoryDump {
  const chunks: Buffer[] = [];
  const ranges: DumpedRange[] = [];
  let total = 0;
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    for (const line of maps.split('\n')) {
      const m = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S+)\s+\S+\s+\S+\s+\S+\s*(.*)$/.exec(line);
      if (m === null) continue;
      const [, startHex, endHex, perms, path] = m as unknown as [string, string, string, string, string];
      // Why skip vvar/vsyscall and unreadable ranges: reading them faults (EIO), and they hold no workload data.
      if (!perms.startsWith('r') || path === '[vvar]' || path === '[vsyscall]' || path === '[vvar_vclock]') continue;
      const start = BigInt(`0x${startHex}`);
      const length = Number(BigInt(`0x${endHex}`) - start);
      const range: DumpedRange = { start: `0x${startHex}`, end: `0x${endHex}`, perms, path, offset: total, length: 0 };
      ranges.push(range);
      let done = 0;
      while (done < length) {
        if (total >= maxBytes) {
          range.truncated = 'size bound reached';
          break;
        }
        const want = Math.min(CHUNK, length - done, maxBytes - total);
        const buf = Buffer.alloc(want);
        let got: number;
        try {
          got = readSync(fd, buf, 0, want, start + BigInt(done));
        } catch (err) {
          range.truncated = `unreadable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
          break;
        }
        if (got === 0) break;
        chunks.push(buf.subarray(0, got));
        done += got;
        total += got;
      }
      range.length = done;
    }
  } finally {
    closeSync(fd);
  }
  return { pid, bytes: Buffer.concat(chunks), ranges, max_bytes: maxBytes };
}
