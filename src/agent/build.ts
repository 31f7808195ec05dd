/**
 * Builds the in-sandbox agent (agent/airlock-agent.c) once per source and compiler flags, into
 * `${stateDir}/agent/<key>/airlock-agent`, where `<key>` is the SHA-256 of the source and flags.
 * The binary lives alone in its directory so a driver can bind that directory read-only into a
 * sandbox (at AGENT_MOUNT); its own SHA-256, recorded at build in `${stateDir}/agent/<key>.sha256`,
 * is checked on every reuse (src/host/c-build.ts builds and verifies).
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AirlockConfig } from '../config/config.ts';
import { AGENT_MOUNT } from '../isolation/driver.ts';
import { ensureCBinary, HARDENED_CFLAGS, type BuildStamps, type CBinary } from '../host/c-build.ts';

/** File name of the agent binary, in its host directory and under AGENT_MOUNT. */
export const AGENT_BINARY_NAME = 'airlock-agent';

/** Where a sandbox finds the agent when its driver bound the agent directory at AGENT_MOUNT. */
export const AGENT_SANDBOX_PATH = `${AGENT_MOUNT}/${AGENT_BINARY_NAME}`;

/** The agent's source, beside the project. */
export const AGENT_SOURCE = fileURLToPath(new URL('../../agent/airlock-agent.c', import.meta.url));

/** Static (no loader, no libraries from the image), warnings fatal, hardened like a distro binary. */
export const AGENT_CFLAGS: readonly string[] = HARDENED_CFLAGS;

/** A built agent: the binary and the directory to bind read-only into sandboxes. */
export type AgentBinary = CBinary;

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
export type AgentStamps = BuildStamps;

/** Builds the agent if needed; verifies an existing build against its recorded checksum. */
export async function ensureAgent(config: Pick<AirlockConfig, 'stateDir'>, source = AGENT_SOURCE, verified?: AgentStamps): Promise<AgentBinary> {
  const spec = { stateDir: config.stateDir, kind: 'agent', source, binaryName: AGENT_BINARY_NAME, cflags: AGENT_CFLAGS, control: 'agent', purpose: 'the in-sandbox agent' };
  return ensureCBinary(spec, verified);
}
