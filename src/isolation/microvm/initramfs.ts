/**
 * The guest's initramfs: the kernel's module fragment (kernel.ts), then the guest init
 * (guest/airlock-vm-init.c, built static like the agent), the agent, the project's seccomp filter,
 * the seccomp audit reader (denial reporting) and the mount points of the sandbox's root. Cached under `${stateDir}/microvm/initramfs/` by the
 * SHA-256 of those inputs; the kernel accepts concatenated cpio archives as one initramfs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ensureCBinary, HARDENED_CFLAGS, type BuildStamps } from '../../host/c-build.ts';
import { AGENT_MOUNT } from '../driver.ts';
import { AGENT_BINARY_NAME, ensureAgent } from '../../agent/build.ts';
import { ensureSeccompAuditHelper } from '../seccomp/audit-helper.ts';
import { compileBpf, DEFAULT_PROFILE, hostArch } from '../seccomp/index.ts';
import { artefactDir, artefactExists, inputsKey, publishArtefact, verifyArtefact, type ArtefactStamps } from './artefacts.ts';
import { cpioArchive, type CpioEntry } from './cpio.ts';
import type { GuestKernel } from './kernel.ts';

/** The guest init's source. */
export const GUEST_INIT_SOURCE = fileURLToPath(new URL('./guest/airlock-vm-init.c', import.meta.url));

/** Directories of the overlay above the image: the sandbox's mount points and the agent's. */
const ROOT_MOUNT_POINTS = ['dev', 'proc', 'tmp', 'run', AGENT_MOUNT.slice(1)];

/** What goes into an initramfs. */
export interface InitramfsInputs {
  kernel: GuestKernel;
  /** The verified agent binary. */
  agentPath: string;
  /** The project's seccomp filter (raw sock_filter array) applied to the agent in the guest. */
  seccompBpf: Buffer;
  /** The verified seccomp audit reader (agent/airlock-seccomp-audit.c): the guest's denial reporting. */
  seccompAuditPath: string;
}

/**
 * The inputs of the initramfs every microvm sandbox boots: the project's agent, audit reader and
 * default filter. `known`: what a long-lived caller already verified or compiled (its agent path,
 * its filter, its build stamps), so a create neither recompiles nor re-checks them.
 */
export async function defaultInitramfsInputs(stateDir: string, kernel: GuestKernel, known: { builds?: BuildStamps; agentPath?: string; seccompBpf?: Buffer } = {}): Promise<InitramfsInputs> {
  const builds = known.builds ?? new Map();
  const [agentPath, audit] = await Promise.all([known.agentPath ?? ensureAgent({ stateDir }, undefined, builds).then((a) => a.path), ensureSeccompAuditHelper(stateDir, builds)]);
  return { kernel, agentPath, seccompBpf: known.seccompBpf ?? compileBpf(DEFAULT_PROFILE, hostArch()), seccompAuditPath: audit.path };
}

/** Builds the guest init (static, hardened flags, verified on reuse). */
export async function ensureGuestInit(stateDir: string, stamps: BuildStamps): Promise<string> {
  const spec = { stateDir, kind: 'microvm-init', source: GUEST_INIT_SOURCE, binaryName: 'airlock-vm-init', cflags: HARDENED_CFLAGS, control: 'microvm', purpose: 'the microvm guest init' };
  return (await ensureCBinary(spec, stamps)).path;
}

/** The cached initramfs for these inputs, verified; built now if missing. */
export async function ensureInitramfs(stateDir: string, inputs: InitramfsInputs, builds: BuildStamps, stamps: ArtefactStamps): Promise<string> {
  const init = readFileSync(await ensureGuestInit(stateDir, builds));
  const modules = readFileSync(inputs.kernel.modulesCpio);
  const agent = readFileSync(inputs.agentPath);
  const audit = readFileSync(inputs.seccompAuditPath);
  const key = inputsKey([['modules', modules], ['init', init], ['agent', agent], ['seccomp', inputs.seccompBpf], ['audit', audit], ['layout', ROOT_MOUNT_POINTS.join(',')]]);
  const path = `${artefactDir(stateDir, 'initramfs')}/${key}.cpio`;
  if (!artefactExists(path)) {
    const extra = ROOT_MOUNT_POINTS.map((p) => ({ kind: 'dir' as const, path: `extra/${p}`, mode: 0o755 }));
    const entries: CpioEntry[] = [
      { kind: 'dir', path: 'dev', mode: 0o755 },
      // The kernel opens it as init's stdio: init's diagnostics reach the serial console.
      { kind: 'char', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
      ...['proc', 'sys', 'image', 'newroot', 'extra'].map((p) => ({ kind: 'dir' as const, path: p, mode: 0o755 })),
      ...extra,
      { kind: 'file', path: `extra${AGENT_MOUNT}/${AGENT_BINARY_NAME}`, mode: 0o555, data: agent },
      { kind: 'file', path: 'seccomp.bpf', mode: 0o444, data: inputs.seccompBpf },
      { kind: 'file', path: 'airlock-seccomp-audit', mode: 0o555, data: audit },
      { kind: 'file', path: 'init', mode: 0o555, data: init },
    ];
    await publishArtefact(path, 'microvm', async (tmp) => writeFileSync(tmp, Buffer.concat([modules, cpioArchive(entries)]), { mode: 0o644 }));
  }
  await verifyArtefact(path, 'microvm', stamps);
  return path;
}
