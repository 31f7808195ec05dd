/**
 * What this host's AppArmor is: enabled or not, which profiles are loaded (and in which mode),
 * and whether it restricts unprivileged user namespaces (Ubuntu 23.10+). Reads only; never throws.
 */
import { existsSync, readFileSync } from 'node:fs';

/** Where the kernel tells these facts; a test points them at files of its own. */
export interface AppArmorPaths {
  /** `Y` when AppArmor is built in and selected as an active LSM. */
  enabledParam: string;
  /** securityfs directory: profiles are loaded and listed through it. */
  securityDir: string;
  /** Ubuntu's sysctl; absent on kernels without the restriction. */
  restrictUserns: string;
}

/** The kernel's own paths. */
export const KERNEL_PATHS: AppArmorPaths = {
  enabledParam: '/sys/module/apparmor/parameters/enabled',
  securityDir: '/sys/kernel/security/apparmor',
  restrictUserns: '/proc/sys/kernel/apparmor_restrict_unprivileged_userns',
};

/** Whether AppArmor confines processes on this host, and why not when it doesn't. */
export type AppArmorState =
  | { enabled: true; profilesFile: string }
  | { enabled: false; reason: string }
  /** Enabled in the kernel but profiles can't be loaded or listed (securityfs not mounted). */
  | { enabled: true; profilesFile: undefined; reason: string };

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Detects AppArmor from the module parameter and securityfs. */
export function detectAppArmor(paths: AppArmorPaths = KERNEL_PATHS): AppArmorState {
  const param = readOr(paths.enabledParam);
  if (param === undefined) return { enabled: false, reason: 'this kernel has no AppArmor' };
  // The LSM framework sets the parameter to N when AppArmor is built in but not selected (lsm=, security=).
  if (param !== 'Y') return { enabled: false, reason: `AppArmor is built in but not active (${paths.enabledParam} = ${param})` };
  const profilesFile = `${paths.securityDir}/profiles`;
  if (!existsSync(profilesFile)) {
    return { enabled: true, profilesFile: undefined, reason: `AppArmor is active but ${paths.securityDir} is missing (mount securityfs: mount -t securityfs securityfs /sys/kernel/security)` };
  }
  return { enabled: true, profilesFile };
}

/**
 * Parses the kernel's list of loaded profiles (`name (mode)` per line; a stacked or child profile
 * appears under its full name) into name → mode (`enforce`, `complain`, `kill`, `unconfined`…).
 */
export function parseLoadedProfiles(text: string): Map<string, string> {
  const loaded = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^(.+) \(([a-z]+)\)$/.exec(line.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) loaded.set(match[1], match[2]);
  }
  return loaded;
}

/** The loaded profiles (empty when AppArmor is off or the list can't be read). */
export function loadedProfiles(state: AppArmorState): Map<string, string> {
  if (!state.enabled || state.profilesFile === undefined) return new Map();
  return parseLoadedProfiles(readOr(state.profilesFile) ?? '');
}

/**
 * Whether AppArmor restricts unprivileged user namespaces (Ubuntu 23.10+ sets the sysctl to 1):
 * then bubblewrap, running as the sandbox's unprivileged uid, needs a profile that grants `userns`.
 */
export function usernsRestricted(paths: AppArmorPaths = KERNEL_PATHS): boolean {
  return readOr(paths.restrictUserns) === '1';
}

/**
 * The label of a process as AppArmor reports it (`/proc/<pid>/attr/apparmor/current`, or the
 * LSM-shared `attr/current` on kernels before 5.8), e.g. `airlock-sandbox (enforce)`.
 */
export function processLabel(pid: number | 'self' = 'self'): string | undefined {
  return readOr(`/proc/${pid}/attr/apparmor/current`) ?? readOr(`/proc/${pid}/attr/current`);
}
