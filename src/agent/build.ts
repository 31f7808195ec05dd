/**
 * Builds the in-sandbox agent (agent/airlock-agent.c) once per source and compiler flags, into
 * `${stateDir}/agent/<key>/airlock-agent`, where `<key>` is the SHA-256 of the source and flags.
 * The binary lives alone in its directory so a driver can bind that directory read-only into a
 * sandbox (at AGENT_MOUNT); its own SHA-256, recorded at build in `${stateDir}/agent/<key>.sha256`,
 * is checked on every reuse.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AirlockConfig } from '../config/config.ts';
import { AGENT_MOUNT } from '../isolation/driver.ts';
import { ControlError } from '../host/control-error.ts';
import { findExecutable } from '../host/which.ts';

/** File name of the agent binary, in its host directory and under AGENT_MOUNT. */
export const AGENT_BINARY_NAME = 'airlock-agent';

/** Where a sandbox finds the agent when its driver bound the agent directory at AGENT_MOUNT. */
export const AGENT_SANDBOX_PATH = `${AGENT_MOUNT}/${AGENT_BINARY_NAME}`;

/** The agent's source, beside the project. */
export const AGENT_SOURCE = fileURLToPath(new URL('../../agent/airlock-agent.c', import.meta.url));

/** Static (no loader, no libraries from the image), warnings fatal, hardened like a distro binary. */
export const AGENT_CFLAGS: readonly string[] = Object.freeze([
  '-static-pie', '-O2', '-s', '-Wall', '-Wextra', '-Werror',
  '-D_FORTIFY_SOURCE=2', '-fstack-protector-strong', '-fstack-clash-protection',
  '-Wl,-z,relro,-z,now,-z,noexecstack',
]);

const GCC_MISSING = 'gcc is needed to build the in-sandbox agent (apt-get install gcc libc6-dev)';
const GCC_TIMEOUT_MS = 120_000;
/** How long a reuse waits for the checksum of a directory another build has just put in place. */
const SIDECAR_WAIT_MS = 2_000;

/** A built agent: the binary and the directory to bind read-only into sandboxes. */
export interface AgentBinary {
  path: string;
  dir: string;
  sha256: string;
}

/** Builds the agent if needed and returns its binary's path. */
export async function ensureAgentBinary(config: Pick<AirlockConfig, 'stateDir'>): Promise<string> {
  return (await ensureAgent(config)).path;
}

/** The directory holding an agent binary: the one to bind at AGENT_MOUNT. */
export function agentDirOf(binaryPath: string): string {
  return dirname(binaryPath);
}

/**
 * Agent binaries a caller has verified (binary path → identity of the file and the checksum it
 * matched). Kept by a long-lived caller (a driver) so that a start re-hashes the binary only when
 * it changed since: hashing it on every sandbox start held the controller's event loop.
 */
export type AgentStamps = Map<string, string>;

/** Builds the agent if needed; verifies an existing build against its recorded checksum. */
export async function ensureAgent(config: Pick<AirlockConfig, 'stateDir'>, source = AGENT_SOURCE, verified?: AgentStamps): Promise<AgentBinary> {
  const text = readFileSync(source);
  const key = sha256(Buffer.concat([text, Buffer.from(`\0${AGENT_CFLAGS.join(' ')}`)]));
  const base = `${config.stateDir}/agent`;
  const dir = `${base}/${key}`;
  const sidecar = `${base}/${key}.sha256`;
  try {
    mkdirSync(base, { recursive: true, mode: 0o755 });
    ownedDir(lstatSync(base), base);
  } catch (err) {
    if (err instanceof ControlError) throw err;
    throw new ControlError('agent', `cannot create ${base}: ${(err as Error).message}`, { cause: err });
  }
  if (!exists(dir)) await build(source, base, dir, sidecar);
  return { path: `${dir}/${AGENT_BINARY_NAME}`, dir, sha256: await verify(dir, sidecar, verified) };
}

async function build(source: string, base: string, dir: string, sidecar: string): Promise<void> {
  const gcc = findExecutable('gcc');
  if (gcc === undefined) throw new ControlError('agent', GCC_MISSING);
  const tmp = mkdtempSync(`${base}/.build-`);
  const sidecarTmp = `${sidecar}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const binary = `${tmp}/${AGENT_BINARY_NAME}`;
    await compile(gcc, [...AGENT_CFLAGS, '-o', binary, source]);
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
    throw new ControlError('agent', `cannot build the agent: ${(err as Error).message}`, { cause: err });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(sidecarTmp, { force: true });
  }
}

function compile(gcc: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(gcc, args, { env: { PATH: '/usr/bin:/bin', LANG: 'C' }, timeout: GCC_TIMEOUT_MS }, (err, _stdout, stderr) => {
      if (err === null) return resolve();
      const detail = String(stderr).trim().split('\n').slice(-8).join('\n') || err.message;
      reject(new ControlError('agent', `gcc could not build the agent (static libc: apt-get install libc6-dev): ${detail}`, { cause: err }));
    });
  });
}

/** Checks the directory, the binary and its checksum; returns the checksum. */
async function verify(dir: string, sidecar: string, verified?: AgentStamps): Promise<string> {
  const binary = `${dir}/${AGENT_BINARY_NAME}`;
  let expected: string | undefined;
  try {
    ownedDir(lstatSync(dir), dir);
    // Alone in its directory: the whole directory is bound into sandboxes.
    const names = readdirSync(dir);
    if (names.length !== 1 || names[0] !== AGENT_BINARY_NAME) throw new ControlError('agent', `${dir} holds ${names.join(', ') || 'nothing'}, not only ${AGENT_BINARY_NAME}`);
    const st = lstatSync(binary);
    if (!st.isFile()) throw new ControlError('agent', `${binary} is not a regular file`);
    if (st.uid !== ownerUid() || (st.mode & 0o7777) !== 0o755) {
      throw new ControlError('agent', `${binary} is owned by uid ${st.uid} with mode ${(st.mode & 0o7777).toString(8)}, not ${ownerUid()} and 755`);
    }
    expected = await readSidecar(sidecar);
    // Skipped only for the very file (same inode, size and times) that already hashed to this checksum.
    const stamp = verified === undefined ? undefined : `${fileStamp(binary)}|${expected}`;
    if (stamp !== undefined && verified?.get(binary) === stamp) return expected;
    const actual = sha256(readFileSync(binary));
    // A binary that changed since it was built is not run in any sandbox.
    if (actual !== expected) throw new ControlError('agent', `${binary} has SHA-256 ${actual}, but ${expected} was recorded at build`);
    if (stamp !== undefined) verified?.set(binary, stamp);
    return actual;
  } catch (err) {
    if (err instanceof ControlError) throw err;
    throw new ControlError('agent', `cannot verify ${binary}: ${(err as Error).message}`, { cause: err });
  }
}

/** The recorded checksum; a concurrent build puts it in place just after its directory. */
async function readSidecar(sidecar: string): Promise<string> {
  const deadline = Date.now() + SIDECAR_WAIT_MS;
  for (;;) {
    try {
      const text = readFileSync(sidecar, 'utf8').trim();
      if (!/^[0-9a-f]{64}$/.test(text)) throw new ControlError('agent', `${sidecar} does not hold a SHA-256`);
      return text;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || Date.now() > deadline) {
        if (err instanceof ControlError) throw err;
        throw new ControlError('agent', `no checksum recorded for the agent build (${sidecar}): refusing to use it`, { cause: err });
      }
      await sleep(50);
    }
  }
}

/** Root-owned (or the builder's own when not root), not group/world writable, not a symlink. */
function ownedDir(st: Stats, path: string): void {
  // A directory another user can write to could have its binary swapped before a sandbox binds it.
  if (st.isSymbolicLink() || !st.isDirectory()) throw new ControlError('agent', `${path} is not a directory`);
  if (st.uid !== ownerUid() || (st.mode & 0o022) !== 0) {
    throw new ControlError('agent', `${path} is owned by uid ${st.uid} with mode ${(st.mode & 0o7777).toString(8)}; refusing to use it`);
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
