/**
 * Secrets for a gVisor sandbox: a tmpfs of their own, mounted on the host at `secrets/` in the
 * root-only bundle directory, holding one 0400 file per secret owned by the sandbox user, then
 * bound read-only at SECRETS_MOUNT. runsc's gofer serves the files from there.
 *
 * Why a host tmpfs: runsc takes mount sources as host paths, and a tmpfs keeps the values in
 * memory only (never on host disk; `noswap` where the kernel has it, so not in swap either). It
 * is reachable only by root, through the 0700 bundle directory, and removeBundle() unmounts it
 * with the rest of the bundle, so it is gone when the sandbox is.
 */
import { execFile } from 'node:child_process';
import { chownSync, closeSync, fsyncSync, lstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { SECRETS_MOUNT, type SecretFile } from '../driver.ts';
import { ControlError } from '../../host/control-error.ts';
import { secretBytes, secretsTmpfsBytes } from '../secret-files.ts';
import type { BundlePaths, MountTools } from './bundle.ts';
import { SANDBOX_UID } from './oci-spec.ts';
import { RUNSC_ENV } from './runsc.ts';

const run = promisify(execFile);

/** The host directory holding a sandbox's secrets tmpfs. */
export function secretsDirOf(paths: BundlePaths): string {
  return `${paths.dir}/secrets`;
}

/**
 * Mounts the secrets tmpfs and writes every value into it; returns its path, or undefined when
 * there are no secrets. The bundle must exist; on failure the caller's removeBundle() unmounts
 * whatever was mounted. Errors name the secret, never the value.
 */
export async function placeSecrets(paths: BundlePaths, secrets: readonly SecretFile[], tools: MountTools): Promise<string | undefined> {
  if (secrets.length === 0) return undefined;
  const dir = secretsDirOf(paths);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    throw new ControlError('secrets', `cannot create ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const base = `size=${secretsTmpfsBytes(secrets)},mode=0500,uid=${SANDBOX_UID},gid=${SANDBOX_UID},nosuid,nodev,noexec`;
  try {
    // Why noswap first: a value paged out to swap would be on host disk.
    await run(tools.mount, ['-t', 'tmpfs', '-o', `${base},noswap`, 'airlock-secrets', dir], { env: RUNSC_ENV }).catch(() =>
      // Kernels before 6.4 lack noswap: the tmpfs is still memory only, though it may be swapped.
      run(tools.mount, ['-t', 'tmpfs', '-o', base, 'airlock-secrets', dir], { env: RUNSC_ENV }),
    );
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    throw new ControlError('secrets', `cannot mount a tmpfs for secrets at ${dir}: ${detail}`, { cause: err });
  }
  for (const secret of secrets) writeSecret(dir, secret);
  return dir;
}

function writeSecret(dir: string, secret: SecretFile): void {
  const path = `${dir}/${secret.name}`;
  const bytes = secretBytes(secret);
  try {
    // Exclusive and unfollowed: the tmpfs is new and root's, so nothing can be in the way.
    const fd = openSync(path, 'wx', 0o400);
    try {
      writeSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chownSync(path, SANDBOX_UID, SANDBOX_UID);
    const st = lstatSync(path);
    if (!st.isFile() || (st.mode & 0o7777) !== 0o400 || st.uid !== SANDBOX_UID || st.size !== bytes.length) throw new Error('it is not the 0400 file of the sandbox user it was written as');
  } catch (err) {
    throw new ControlError(`secret ${secret.name}`, `cannot place ${SECRETS_MOUNT}/${secret.name}: ${(err as Error).message}`, { cause: err });
  } finally {
    bytes.fill(0);
  }
}
