/**
 * What `airlock doctor` says about AppArmor: whether it is active, whether the sandbox profile is
 * loaded, and (Ubuntu 23.10+) whether bubblewrap may create user namespaces.
 */
import { findExecutable } from '../../host/which.ts';
import { bwrapUsernsStatus } from './bwrap-userns.ts';
import { detectAppArmor, KERNEL_PATHS, loadedProfiles, usernsRestricted, type AppArmorPaths } from './detect.ts';
import { SANDBOX_PROFILE } from './profile.ts';

/** One doctor line. */
export interface AppArmorFact {
  name: string;
  ok: boolean;
  detail: string;
}

/** The AppArmor lines of `airlock doctor`. */
export function appArmorFacts(paths: AppArmorPaths = KERNEL_PATHS, parser = findExecutable('apparmor_parser')): AppArmorFact[] {
  const state = detectAppArmor(paths);
  if (!state.enabled) return [{ name: 'apparmor', ok: true, detail: `not active (${state.reason}): sandboxes rely on seccomp and namespaces alone` }];
  if (state.profilesFile === undefined) return [{ name: 'apparmor', ok: false, detail: state.reason }];
  const mode = loadedProfiles(state).get(SANDBOX_PROFILE);
  const facts: AppArmorFact[] = [];
  if (mode === 'enforce') facts.push({ name: 'apparmor', ok: true, detail: `active; ${SANDBOX_PROFILE} loaded (enforce): namespace sandboxes run under it` });
  else if (parser === undefined) facts.push({ name: 'apparmor', ok: false, detail: `active, ${SANDBOX_PROFILE} ${mode === undefined ? 'not loaded' : `in ${mode} mode`} and apparmor_parser missing: namespace sandboxes can't start (apt-get install apparmor)` });
  else facts.push({ name: 'apparmor', ok: true, detail: `active; ${SANDBOX_PROFILE} ${mode === undefined ? 'not loaded yet' : `in ${mode} mode`}: the controller loads it (enforce) before the first namespace sandbox (or now: sudo ./scripts/setup.sh install)` });
  if (usernsRestricted(paths)) {
    const userns = bwrapUsernsStatus(paths);
    facts.push({ name: 'apparmor userns', ok: userns.ok, detail: userns.detail });
  }
  return facts;
}
