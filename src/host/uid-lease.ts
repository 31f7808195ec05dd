/**
 * Hands each live sandbox its own unprivileged host uid, so that no sandbox ever maps to host root
 * and two sandboxes never share a host identity (signals, /proc access and file ownership all
 * differ). Leases are files created with O_EXCL under the run directory: atomic across processes.
 */
import { unlinkSync } from 'node:fs';
import { leaseFreeFile } from './lease-file.ts';
import { ControlError } from './control-error.ts';

/** A held host uid (gid is the same number). `release()` is idempotent. */
export interface UidLease {
  uid: number;
  release(): void;
}

/** Leases a free uid from `[base, base + count)`, starting at a random offset. */
export function leaseHostUid(runDir: string, base: number, count: number): UidLease {
  const dir = `${runDir}/uids`;
  const lease = leaseFreeFile({ dir, count, fileName: (i) => String(base + i), control: 'uid', what: 'a host uid' });
  if (lease === undefined) throw new ControlError('uid', `all ${count} sandbox host uids from ${base} are leased`);
  return { uid: base + lease.index, release: lease.release };
}

/** Frees a lease left by a controller that died (the reaper's path). */
export function releaseHostUid(runDir: string, uid: number): void {
  try {
    unlinkSync(`${runDir}/uids/${uid}`);
  } catch {
    // Already free.
  }
}
