/**
 * The `microvm` tier's cache of built guest artefacts (kernel, initramfs, image root filesystems)
 * under `${stateDir}/microvm/`, each named by the SHA-256 of its inputs and checked against the
 * SHA-256 of its own bytes recorded when it was built (a `.sha256` file beside it).
 *
 * Directories are root-owned and 0700: the VMM never opens these paths itself, it is handed
 * descriptors (see qemu-args.ts). Verification re-hashes a file only when its identity changed
 * since this process last hashed it (same rule as src/host/c-build.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { ControlError } from '../../host/control-error.ts';

/** Files this process already hashed: path → identity and the checksum it matched. */
export type ArtefactStamps = Map<string, string>;

/** `${stateDir}/microvm/<kind>`, created root-only if missing; refused if anyone else could write it. */
export function artefactDir(stateDir: string, kind: string): string {
  const dir = `${stateDir}/microvm/${kind}`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new ControlError('microvm', `cannot create ${dir}: ${(err as Error).message}`, { cause: err });
  }
  for (const path of [`${stateDir}/microvm`, dir]) {
    const st = lstatSync(path);
    // Why: a directory another user can write to could have a guest kernel or root swapped before boot.
    if (!st.isDirectory() || st.uid !== (process.getuid?.() ?? 0) || (st.mode & 0o022) !== 0) {
      throw new ControlError('microvm', `${path} is not a directory owned by this user and writable by it alone`);
    }
  }
  return dir;
}

/** SHA-256 (hex) of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** SHA-256 (hex) of labelled inputs, each length-prefixed so no two input lists collide. */
export function inputsKey(parts: readonly (readonly [string, string | Buffer])[]): string {
  const hash = createHash('sha256');
  for (const [label, value] of parts) {
    hash.update(`${label}\0${value.length}\0`);
    hash.update(value);
  }
  return hash.digest('hex');
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function fileStamp(path: string): string {
  const st = lstatSync(path, { bigint: true });
  if (!st.isFile()) throw new Error(`${path} is not a regular file`);
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/** Whether the artefact at `path` exists (with its recorded checksum). */
export function artefactExists(path: string): boolean {
  try {
    return lstatSync(path).isFile() && lstatSync(`${path}.sha256`).isFile();
  } catch {
    return false;
  }
}

/** Checks `path` against its recorded checksum; throws a ControlError naming `control` if it differs. */
export async function verifyArtefact(path: string, control: string, stamps: ArtefactStamps): Promise<string> {
  let expected: string;
  try {
    expected = readFileSync(`${path}.sha256`, 'utf8').trim();
  } catch (err) {
    throw new ControlError(control, `no checksum recorded for ${path}: refusing to boot it`, { cause: err });
  }
  if (!/^[0-9a-f]{64}$/.test(expected)) throw new ControlError(control, `${path}.sha256 does not hold a SHA-256`);
  const stamp = `${fileStamp(path)}|${expected}`;
  if (stamps.get(path) === stamp) return expected;
  // Why trusting a stamp file is as good as hashing: any write to the artefact or a new file in its
  // place changes its change time or inode, and only root writes the root-only directory (the same
  // rule as src/images/verified-manifests.ts). A missing or different stamp only means hashing again.
  if (readOrUndefined(`${path}.stamp`) === stamp) {
    stamps.set(path, stamp);
    return expected;
  }
  const actual = await sha256File(path);
  // Why: an artefact that changed since it was built is never booted.
  if (actual !== expected) throw new ControlError(control, `${path} has SHA-256 ${actual}, but ${expected} was recorded when it was built`);
  stamps.set(path, stamp);
  try {
    writeFileSync(`${path}.stamp.tmp`, stamp, { mode: 0o600 });
    renameSync(`${path}.stamp.tmp`, `${path}.stamp`);
  } catch {
    // Only a cache of this hash: the next run hashes again.
  }
  return actual;
}

/**
 * Puts a finished artefact in place: `build(tmp)` writes it to a temporary name beside `path`,
 * then its checksum is recorded and both are renamed into place (a build cut short never counts).
 */
export async function publishArtefact(path: string, control: string, build: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await build(tmp);
    const digest = await sha256File(tmp);
    writeFileSync(`${tmp}.sha256`, `${digest}\n`, { mode: 0o600 });
    renameSync(tmp, path);
    renameSync(`${tmp}.sha256`, `${path}.sha256`);
  } catch (err) {
    if (err instanceof ControlError) throw err;
    throw new ControlError(control, `cannot build ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    rmSync(tmp, { force: true });
    rmSync(`${tmp}.sha256`, { force: true });
  }
}
