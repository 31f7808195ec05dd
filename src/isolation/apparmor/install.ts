/**
 * Run by scripts/setup.sh (as root) where AppArmor is active:
 *
 *   node src/isolation/apparmor/install.ts
 *
 * Writes /etc/apparmor.d/airlock-sandbox and loads it (cached); where AppArmor restricts
 * unprivileged user namespaces (Ubuntu 23.10+) and no profile of the distribution's covers
 * bubblewrap, also writes and loads /etc/apparmor.d/airlock-bwrap. Idempotent. Exits non-zero,
 * saying why, when a profile can't be installed.
 */
import { writeFileSync } from 'node:fs';
import { BWRAP_USERNS_FILE, bwrapBinary, foreignBwrapProfile } from './bwrap-userns.ts';
import { detectAppArmor, usernsRestricted } from './detect.ts';
import { loadProfile, requireParser } from './load.ts';
import { renderBwrapUsernsProfile, renderSandboxProfile, SANDBOX_PROFILE } from './profile.ts';

/** Installs what this host needs; returns the lines to print. */
export async function installProfiles(): Promise<string[]> {
  const state = detectAppArmor();
  if (!state.enabled) return [`AppArmor: ${state.reason}; nothing to install`];
  if (state.profilesFile === undefined) throw new Error(state.reason);
  const parser = requireParser();
  const done: string[] = [];
  const sandboxFile = `/etc/apparmor.d/${SANDBOX_PROFILE}`;
  const sandbox = renderSandboxProfile();
  writeFileSync(sandboxFile, sandbox, { mode: 0o644 });
  await loadProfile(sandbox, parser, { cache: true });
  done.push(`AppArmor: ${sandboxFile} loaded`);
  if (usernsRestricted()) {
    const bwrap = bwrapBinary();
    const foreign = foreignBwrapProfile(bwrap);
    if (foreign !== undefined) {
      done.push(`AppArmor: ${foreign} already attaches to ${bwrap}; no airlock-bwrap profile installed`);
    } else {
      const grant = renderBwrapUsernsProfile(bwrap);
      writeFileSync(BWRAP_USERNS_FILE, grant, { mode: 0o644 });
      await loadProfile(grant, parser, { cache: true });
      done.push(`AppArmor: ${BWRAP_USERNS_FILE} loaded (userns for ${bwrap})`);
    }
  }
  return done;
}

if (import.meta.main) {
  try {
    for (const line of await installProfiles()) process.stderr.write(`${line}\n`);
  } catch (err) {
    process.stderr.write(`AppArmor: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
