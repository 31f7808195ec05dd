/**
 * Builds a single-file C helper of the project (agent/*.c) once per source and compiler flags,
 * into `${stateDir}/<kind>/<key>/<binaryName>`, where `<key>` is the SHA-256 of the source and
 * flags. The binary lives alone in its root-owned directory (so the directory can be bound
 * read-only into a sandbox); its own SHA-256, recorded at build in `${stateDir}/<kind>/<key>.sha256`,
 * is checked on every reuse. Failures are ControlErrors naming the caller's control.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ControlError } from './control-error.ts';
import { findExecutable } from './which.ts';

/** Static (no loader, no libraries from the image), warnings fatal, hardened like a distro binary. */
export const HARDENED_CFLAGS: readonly string[] = Object.freeze([
  '-static-pie', '-O2', '-s', '-Wall', '-Wextra', '-Werror',
  '-D_FORTIFY_SOURCE=2', '-fstack-protector-strong', '-fstack-clash-protection',
  '-Wl,-z,relro,-z,now,-z,noexecstack',
]);

const GCC_TIMEOUT_MS = 120_000;
/** How long a reuse waits for the checksum of a directory another build has just put in place. */
const SIDECAR_WAIT_MS = 2_000;

/** What to build and where: one C source into `${stateDir}/${kind}/<key>/${binaryName}`. */
export interface CBuildSpec {
  stateDir: string;
  /** Directory under stateDir holding this helper's builds (`agent`, `peercred`). */
  kind: string;
  source: string;
  binaryName: string;
  cflags: readonly string[];
  /** The control every failure names (ControlError.control). */
  control: string;
  /** Says what the binary is for, in "gcc is needed to build …" messages. */
  purpose: string;
}

/** A built helper: the binary, its directory, and its checksum. */
export interface CBinary {
  path: string;
  dir: string;
  sha256: string;
}

/**
 * Binaries a caller has verified (binary path → identity of the file and the checksum it matched),
 * and the build key of each source (`source:<path>|<identity of the file>|<flags>` → its key).
 * Kept by a long-lived caller so that a reuse re-hashes a file only when it changed since.
 */
export type BuildStamps = Map<string, string>;

/** Builds the helper if needed; verifies an existing build against its recorded checksum. */
export async function ensureCBinary(spec: CBuildSpec, verified?: BuildStamps): Promise<CBinary> {
  const key = buildKey(spec, verified);
  const base = `${spec.stateDir}/${spec.kind}`;
  const dir = `${base}/${key}`;
  const sidecar = `${base}/${key}.sha256`;
  try {
    mkdirSync(base, { recursive: true, mode: 0o755 });
    ownedDir(spec, lstatSync(base), base);
  } catch (err) {
    if (err instanceof ControlError) throw err;
    throw new ControlError(spec.control, `cannot create ${base}: ${(err as Error).message}`, { cause: err });
  }
  if (!exists(dir)) await build(spec, base, dir, sidecar);
  return { path: `${dir}/${spec.binaryName}`, dir, sha256: await verify(spec, dir, sidecar, verified) };
}

/**
 * The SHA-256 of the source and flags. With `verified`, remembered under the source file's identity
 * ({@link fileStamp}) and flags: the source is read and hashed again only when it changed since.
 */
function buildKey(spec: CBuildSpec, verified?: BuildStamps): string {
  const flags = `\0${spec.cflags.join(' ')}`;
  const entry = verified === undefined ? undefined : `source:${spec.source}|${fileStamp(spec.source)}|${flags}`;
  const known = entry === undefined ? undefined : verified?.get(entry);
  if (known !== undefined) return known;
  const key = sha256(Buffer.concat([readFileSync(spec.source), Buffer.from(flags)]));
  if (entry !== undefined) verified?.set(entry, key);
  return key;
}

async function build(spec: CBuildSpec, base: string, dir: string, sidecar: string): Promise<void> {
  const gcc = findExecutable('gcc');
  if (gcc === undefined) throw new ControlError(spec.control, `gcc is needed to build ${spec.purpose} (apt-get install gcc libc6-dev)`);
  const tmp = mkdtempSync(`${base}/.build-`);
  const sidecarTmp = `${sidecar}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const binary = `${tmp}/${spec.binaryName}`;
    await compile(spec, gcc, [...spec.cflags, '-o', binary, spec.source]);
    chmodSync(binary, 0o755);
    chmodSync(tmp, 0o755);
    writeFileSync(sidecarTmp, `${sha256(readFileSync(binary))}\n`, { mode: 0o644, flag: 'wx' });
    try {
      // The directory appears whole or not at all; a concurrent build of the same key may win.
      renameSync(tmp, dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      return;
    }
    renameSync(sidecarTmp, sidecar);
  } catch (err) {
    if (err instanceof ControlError) throw err;
    throw new ControlError(spec.control, `cannot build ${spec.purpose}: ${(err as Error).message}`, { cause: err });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(sidecarTmp, { force: true });
  }
}

function compile(spec: CBuildSpec, gcc: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(gcc, args, { env: { PATH: '/usr/bin:/bin', LANG: 'C' }, timeout: GCC_TIMEOUT_MS }, (err, _stdout, stderr) => {
      if (err === null) return resolve();
      const detail = String(stderr).trim().split('\n').slice(-8).join('\n') || err.message;
      reject(new ControlError(spec.control, `gcc could not build ${spec.purpose} (static libc: apt-get install libc6-dev): ${detail}`, { cause: err }));
    });
  });
}

/** Checks the directory, the binary and its checksum; returns the checksum. */
async function verify(spec: CBuildSpec, dir: string, sidecar: string, verified?: BuildStamps): Promise<string> {
  const binary = `${dir}/${spec.binaryName}`;
  let expected: string | undefined;
  try {
    ownedDir(spec, lstatSync(dir), dir);
    // Alone in its directory: the whole directory may be bound into sandboxes.
    const names = readdirSync(dir);
    if (names.length !== 1 || names[0] !== spec.binaryName) throw new ControlError(spec.control, `${dir} holds ${names.join(', ') || 'nothing'}, not only ${spec.binaryName}`);
    const st = lstatSync(binary);
    if (!st.isFile()) throw new ControlError(spec.control, `${binary} is not a regular file`);
    if (st.uid !== ownerUid() || (st.mode & 0o7777) !== 0o755) {
      throw new ControlError(spec.control, `${binary} is owned by uid ${st.uid} with mode ${(st.mode & 0o7777).toString(8)}, not ${ownerUid()} and 755`);
    }
    expected = await readSidecar(spec, sidecar);
    // Skipped only for the very file (same inode, size and times) that already hashed to this checksum.
    const stamp = verified === undefined ? undefined : `${fileStamp(binary)}|${expected}`;
    if (stamp !== undefined && verified?.get(binary) === stamp) return expected;
    const actual = sha256(readFileSync(binary));
    // Why: a binary that changed since it was built is never run.
    if (actual !== expected) throw new ControlError(spec.control, `${binary} has SHA-256 ${actual}, but ${expected} was recorded at build`);
    if (stamp !== undefined) verified?.set(binary, stamp);
    return actual;
  } catch (err) {
    if (err instanceof ControlError) throw err;
    throw new ControlError(spec.control, `cannot verify ${binary}: ${(err as Error).message}`, { cause: err });
  }
}

/** The recorded checksum; a concurrent build puts it in place just after its directory. */
async function readSidecar(spec: CBuildSpec, sidecar: string): Promise<string> {
  const deadline = Date.now() + SIDECAR_WAIT_MS;
  for (;;) {
    try {
      const text = readFileSync(sidecar, 'utf8').trim();
      if (!/^[0-9a-f]{64}$/.test(text)) throw new ControlError(spec.control, `${sidecar} does not hold a SHA-256`);
      return text;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || Date.now() > deadline) {
        if (err instanceof ControlError) throw err;
        throw new ControlError(spec.control, `no checksum recorded for the ${spec.kind} build (${sidecar}): refusing to use it`, { cause: err });
      }
      await sleep(50);
    }
  }
}

/** Root-owned (or the builder's own when not root), not group/world writable, not a symlink. */
function ownedDir(spec: CBuildSpec, st: Stats, path: string): void {
  // Why: a directory another user can write to could have its binary swapped before it runs.
  if (st.isSymbolicLink() || !st.isDirectory()) throw new ControlError(spec.control, `${path} is not a directory`);
  if (st.uid !== ownerUid() || (st.mode & 0o022) !== 0) {
    throw new ControlError(spec.control, `${path} is owned by uid ${st.uid} with mode ${(st.mode & 0o7777).toString(8)}; refusing to use it`);
  }
}

/** A file's identity: any write or replacement changes its inode, size or times. */
function fileStamp(path: string): string {
  const st = lstatSync(path, { bigint: true });
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

function ownerUid(): number {
  return process.getuid?.() ?? 0;
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
