/**
 * A writable grant of a directory its requester owns (an `airlock run --mount`, or
 * `filesystem_access` from a caller on the unix socket) is written as that requester: files the
 * sandbox creates there belong to them on the host, and no `chmod 777` is needed. The `namespace`
 * runtime makes it an id-mapped mount (see host-binds.ts); gVisor checks it as the sandbox's own
 * uid, as before. Callers over TCP have no host uid: their grants are never written as anyone.
 */
import { lstatSync } from 'node:fs';
import type { GrantedMount } from '../driver.ts';

/** `mounts` with `writeAs` set on every writable grant of a directory `uid` owns (none when `uid` is undefined). */
export function withOwnerWrites(mounts: readonly GrantedMount[], uid: number | undefined): GrantedMount[] {
  return mounts.map((mount) => {
    if (!mount.writable || uid === undefined) return mount;
    try {
      // lstat: a symlink is never followed here (the grant check refuses it anyway).
      const st = lstatSync(mount.hostPath);
      // Why only the requester's own directory: the sandbox then gets nothing there its requester couldn't do.
      return st.isDirectory() && st.uid === uid ? { ...mount, writeAs: { uid: st.uid, gid: st.gid } } : mount;
    } catch {
      // Missing or unreadable: the grant check refuses it with the usual words.
      return mount;
    }
  });
}
