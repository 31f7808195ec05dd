/**
 * The controller's own audit login uid. Seccomp denials are attributed to a sandbox by the audit
 * login uid its launcher sets on itself (see agent/airlock-agent.c, --loginuid), and an
 * unprivileged process may set its loginuid only while it is unset. A controller started from a
 * login session (ssh, a terminal, `sudo` in either) inherits that session's loginuid, so the
 * controller clears its own first: children then inherit "unset".
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ControlError } from './control-error.ts';

/** The kernel's "no login uid" value ((uid_t)-1). */
export const LOGINUID_UNSET = 4294967295;

const SELF = '/proc/self/loginuid';

/** This process's audit login uid, or undefined where the kernel has no audit support. */
export function readOwnLoginUid(path = SELF): number | undefined {
  try {
    return Number(readFileSync(path, 'utf8').trim());
  } catch {
    return undefined;
  }
}

/**
 * Makes this process's loginuid unset, so that the sandboxes' launchers can each set their own.
 * Needs CAP_AUDIT_CONTROL (root has it) and a loginuid that is not immutable. Must run on the main
 * thread: the loginuid is per task, and child processes are forked from the main thread.
 * Fails closed, naming the control and the fix.
 */
export function clearOwnLoginUid(path = SELF): void {
  const current = readOwnLoginUid(path);
  if (current === undefined || current === LOGINUID_UNSET) return;
  try {
    // Why: the host's own audit trail loses the login association for airlock's processes only;
    // airlock's audit log records who acted, and attribution of every denial needs this.
    writeFileSync(path, String(LOGINUID_UNSET));
  } catch (err) {
    throw new ControlError('seccomp-audit', `the controller runs with audit login uid ${current} (inherited from a login session) and cannot clear it: ${(err as Error).message}; start it from a service manager (e.g. systemd), whose services have no login uid`);
  }
  const after = readOwnLoginUid(path);
  if (after !== LOGINUID_UNSET) throw new ControlError('seccomp-audit', `the controller's audit login uid is still ${after} after clearing it`);
}
