/**
 * The Ubuntu 23.10+ user-namespace grant for airlock's bubblewrap: where it is needed, whether it
 * (or an equivalent profile of the distribution's) is in force, and the exact fix when it isn't.
 */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { findExecutable } from '../../host/which.ts';
import { detectAppArmor, KERNEL_PATHS, loadedProfiles, usernsRestricted, type AppArmorPaths } from './detect.ts';
import { BWRAP_USERNS_PROFILE } from './profile.ts';

/** Where setup installs the grant (the boot-time AppArmor service loads it from there). */
export const BWRAP_USERNS_FILE = `/etc/apparmor.d/${BWRAP_USERNS_PROFILE}`;

/** The command that installs the grant. */
export const BWRAP_USERNS_FIX = 'sudo ./scripts/setup.sh install (loads /etc/apparmor.d/airlock-bwrap: `userns` for the bubblewrap airlock runs)';

/**
 * The bubblewrap binary airlock runs (the namespace driver's lookup), as the path AppArmor attaches
 * profiles to: a symlink is refused, since the kernel would match its target's path instead.
 */
export function bwrapBinary(): string {
  const path = findExecutable('bwrap');
  if (path === undefined) throw new Error('bubblewrap is not installed (apt-get install bubblewrap)');
  if (lstatSync(path).isSymbolicLink()) throw new Error(`${path} is a symlink: AppArmor attaches profiles to the file it points to; install bubblewrap as a plain file`);
  return path;
}

/**
 * A profile of the distribution's own that already attaches to `bwrapPath` (Ubuntu 25.04's
 * bwrap-userns-restrict, a hand-made `bwrap` one), named by its file; undefined if none. Two
 * profiles attached to one path make every exec of it ambiguous, so then airlock installs none.
 */
export function foreignBwrapProfile(bwrapPath: string, dir = '/etc/apparmor.d'): string | undefined {
  const attaches = new RegExp(`^\\s*(profile\\s+\\S+\\s+)?${bwrapPath.replace(/[.+]/g, '\\$&')}\\s+(flags=|\\{)`, 'm');
  for (const entry of safeList(dir)) {
    if (entry === BWRAP_USERNS_PROFILE) continue;
    try {
      if (attaches.test(readFileSync(`${dir}/${entry}`, 'utf8'))) return `${dir}/${entry}`;
    } catch {
      // A directory or an unreadable file: not a profile of interest.
    }
  }
  return undefined;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Whether bubblewrap may create user namespaces as far as AppArmor is concerned, and why. */
export function bwrapUsernsStatus(paths: AppArmorPaths = KERNEL_PATHS): { ok: boolean; detail: string } {
  if (!usernsRestricted(paths)) return { ok: true, detail: 'AppArmor does not restrict unprivileged user namespaces here' };
  const loaded = loadedProfiles(detectAppArmor(paths));
  if (loaded.has(BWRAP_USERNS_PROFILE)) return { ok: true, detail: `kernel.apparmor_restrict_unprivileged_userns=1; ${BWRAP_USERNS_PROFILE} grants userns to bubblewrap` };
  if (loaded.has('bwrap')) return { ok: true, detail: 'kernel.apparmor_restrict_unprivileged_userns=1; the distribution\'s bwrap profile grants userns to bubblewrap' };
  return { ok: false, detail: `kernel.apparmor_restrict_unprivileged_userns=1 and no profile grants userns to bubblewrap: sandboxes can't start. Fix: ${BWRAP_USERNS_FIX}` };
}
