/**
 * Hands each live sandbox its own unprivileged host uid, so that no sandbox ever maps to host root
 * and two sandboxes never share a host identity (signals, /proc access and file ownership all
 * differ). Leases are files created with O_EXCL under the run directory: atomic across processes.
 */
import { mkdirSync, openSync, closeSync, unlinkSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { fileReleaser } from './lease-file.ts';
import { ControlError } from './driver.ts';

/** A held host uid (gid is the same number). `release()` is idempotent. */
export interface UidLease {
  uid: number;
  release(): void;
}

/** Leases a free uid from `[base, base + count)`, starting at a random offset. */
export function leaseHostUid(runDir: string, base: number, count: number): UidLease {
  const dir = `${runDir}/uids`;
  // 0700 root: only the controller may create or inspect leases.
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const start = randomInt(count);
  for (let i = 0; i < count; i++) {
    const uid = base + ((start + i) % count);
    const path = `${dir}/${uid}`;
    try {
      closeSync(openSync(path, 'wx', 0o600));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw new ControlError('uid', `cannot lease a host uid in ${dir}: ${(err as Error).message}`, { cause: err });
    }
    return {
      uid,
      release: fileReleaser(path),
    };
  }
  throw new ControlError('uid', `all ${count} sandbox host uids from ${base} are leased`);
}

/** Frees a lease left by a controller that died (the reaper's path). */
export function releaseHostUid(runDir: string, uid: number): void {
  try {
    unlinkSync(`${runDir}/uids/${uid}`);
  } catch {
    // Already free.
  }
}
