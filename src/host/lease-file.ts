/**
 * Leases held as files: one file per numbered lease, created with O_EXCL so that two controllers
 * on the host can never hold the same one; releasing is removing the file.
 */
import { closeSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { ControlError } from './control-error.ts';

/** Returns a function that removes `path` once; later calls do nothing. */
export function fileReleaser(path: string): () => void {
  let released = false;
  return () => {
    if (released) return;
    released = true;
    try {
      unlinkSync(path);
    } catch {
      // Already released by a reaper.
    }
  };
}

export interface FileLeaseRequest {
  dir: string;
  /** Leases are numbered 0 … count-1. */
  count: number;
  fileName: (index: number) => string;
  /** Written into the lease file (e.g. who holds it). */
  content?: string;
  /** The control named when leasing fails, and what is leased ("a host uid"). */
  control: string;
  what: string;
}

/**
 * Leases the first free number, starting at a random one (so concurrent controllers rarely
 * contend); undefined when every number is taken. Any other failure fails closed naming the control.
 */
export function leaseFreeFile(request: FileLeaseRequest): { index: number; release: () => void } | undefined {
  const { dir, count } = request;
  // Root-only: lease files decide what a later controller hands out or tears down.
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const start = randomInt(count);
  for (let i = 0; i < count; i++) {
    const index = (start + i) % count;
    const path = `${dir}/${request.fileName(index)}`;
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw new ControlError(request.control, `cannot lease ${request.what} in ${dir}: ${(err as Error).message}`, { cause: err });
    }
    try {
      if (request.content !== undefined) writeSync(fd, request.content);
    } finally {
      closeSync(fd);
    }
    return { index, release: fileReleaser(path) };
  }
  return undefined;
}
