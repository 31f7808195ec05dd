/**
 * The guest kernel: Debian's `linux-image-cloud-amd64`, fetched with `apt-get download` (the
 * package apt verified against the archive's signed index, never installed on the host) and
 * cached under `${stateDir}/microvm/kernel/` as the kernel image and a cpio fragment of the
 * modules the guest needs, in load order.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { ControlError } from '../../host/control-error.ts';
import { findExecutable } from '../../host/which.ts';
import { artefactDir, artefactExists, publishArtefact, sha256File, verifyArtefact, type ArtefactStamps } from './artefacts.ts';
import { cpioArchive, type CpioEntry } from './cpio.ts';
import { loadOrder } from './modules.ts';

const run = process.getBuiltinModule('node:util').promisify(execFile);

/** The Debian metapackage whose dependency names the kernel the guest boots. */
export const KERNEL_METAPACKAGE = 'linux-image-cloud-amd64';

/**
 * Modules the guest loads (with what they depend on): virtio-mmio transport (microvm's devices,
 * found through its ACPI tables), virtio-blk (the image), virtio-console (the control channel),
 * erofs (the image's filesystem), overlay (mount points over the read-only image) and virtio-net
 * (eth0 on restricted and full networks).
 */
export const GUEST_MODULES = ['virtio_mmio', 'virtio_blk', 'virtio_console', 'erofs', 'overlay', 'virtio_net'] as const;

/**
 * Modules loaded only by a guest with grants (listed in /modules.grants, after GUEST_MODULES):
 * virtio-fs, each grant a share its file server serves. Why apart: a boot without grants does not
 * pay for them, and a guest without grants has no FUSE code loaded to attack.
 */
export const GRANT_MODULES = ['virtiofs'] as const;

/** The module lists' share of the cached fragment's name: a changed list is a new fragment. */
const MODULES_KEY = createHash('sha256').update(`${GUEST_MODULES.join(',')};${GRANT_MODULES.join(',')}`).digest('hex').slice(0, 12);

/** A cached guest kernel. */
export interface GuestKernel {
  /** The kernel package and version, e.g. `linux-image-6.1.0-57-cloud-amd64_6.1.192-3`. */
  release: string;
  /** The bzImage (QEMU 7.2's microvm boots it directly; a PVH vmlinux measured no faster here). */
  vmlinuz: string;
  /** A cpio archive of lib/modules/<name>.ko, /modules and /modules.grants (load orders), for the initramfs. */
  modulesCpio: string;
}

const APT_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };

/** The package and version apt would install for the metapackage (from apt's local lists). */
export async function kernelPackage(): Promise<{ name: string; version: string; sha256: string | undefined }> {
  const show = async (pkg: string) => (await run('apt-cache', ['show', '--no-all-versions', pkg], { env: APT_ENV })).stdout;
  let meta: string;
  try {
    meta = await show(KERNEL_METAPACKAGE);
  } catch (err) {
    throw new ControlError('microvm', `apt knows no ${KERNEL_METAPACKAGE} (a Debian host with apt-get update done is needed): ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  const dep = /^Depends:\s*(linux-image-[^\s,(]+)\s*(?:\(=\s*([^)\s]+)\))?/m.exec(meta);
  if (dep?.[1] === undefined) throw new ControlError('microvm', `${KERNEL_METAPACKAGE} names no linux-image package`);
  const pkg = await show(dep[1]);
  const version = /^Version:\s*(\S+)/m.exec(pkg)?.[1];
  if (version === undefined) throw new ControlError('microvm', `apt has no version of ${dep[1]}`);
  return { name: dep[1], version, sha256: /^SHA256:\s*([0-9a-f]{64})/m.exec(pkg)?.[1] };
}

/** Kernel package names as they become file names. */
const RELEASE_RE = /^[a-z0-9][a-z0-9.+~_-]*$/;

function kernelFiles(dir: string, release: string): GuestKernel {
  return { release, vmlinuz: `${dir}/${release}.vmlinuz`, modulesCpio: `${dir}/${release}.modules-${MODULES_KEY}.cpio` };
}

/**
 * The cached kernel, verified. The release in use is the one named by `kernel/current` (written
 * when it was fetched), so a run never waits for apt; with none cached, apt's candidate is fetched
 * and unpacked now (needs apt's network). A newer kernel is taken by removing the cache.
 */
export async function ensureGuestKernel(stateDir: string, stamps: ArtefactStamps): Promise<GuestKernel> {
  const dir = artefactDir(stateDir, 'kernel');
  let kernel = currentKernel(dir);
  if (kernel === undefined) {
    const pkg = await kernelPackage();
    const release = `${pkg.name}_${pkg.version}`;
    if (!RELEASE_RE.test(release)) throw new ControlError('microvm', `unexpected kernel package name ${release}`);
    kernel = kernelFiles(dir, release);
    if (!artefactExists(kernel.vmlinuz) || !artefactExists(kernel.modulesCpio)) await fetchKernel(pkg, dir, kernel);
    writeFileSync(`${dir}/current.tmp`, `${release}\n`, { mode: 0o600 });
    renameSync(`${dir}/current.tmp`, `${dir}/current`);
  }
  await verifyArtefact(kernel.vmlinuz, 'microvm', stamps);
  await verifyArtefact(kernel.modulesCpio, 'microvm', stamps);
  return kernel;
}

/** The release `kernel/current` names, when both its files are cached. */
function currentKernel(dir: string): GuestKernel | undefined {
  let release: string;
  try {
    release = readFileSync(`${dir}/current`, 'utf8').trim();
  } catch {
    return undefined;
  }
  if (!RELEASE_RE.test(release)) return undefined;
  const kernel = kernelFiles(dir, release);
  return artefactExists(kernel.vmlinuz) && artefactExists(kernel.modulesCpio) ? kernel : undefined;
}

/** The cached guest kernel's release, if any (no fetch, no apt): for `airlock doctor`. */
export function cachedGuestKernel(stateDir: string): string | undefined {
  return currentKernel(`${stateDir}/microvm/kernel`)?.release;
}

async function fetchKernel(pkg: { name: string; version: string; sha256: string | undefined }, dir: string, kernel: GuestKernel): Promise<void> {
  if (findExecutable('dpkg-deb') === undefined) throw new ControlError('microvm', 'dpkg-deb is needed to unpack the guest kernel (apt-get install dpkg)');
  const work = mkdtempSync(`${dir}/.fetch-`);
  try {
    try {
      await run('apt-get', ['download', '-q', `${pkg.name}=${pkg.version}`], { cwd: work, env: APT_ENV, maxBuffer: 16 << 20, timeout: 600_000 });
    } catch (err) {
      throw new ControlError('microvm', `apt-get download ${pkg.name}=${pkg.version} failed: ${((err as { stderr?: string }).stderr ?? (err as Error).message).trim().split('\n').slice(-2).join(' ')}`, { cause: err });
    }
    const deb = readdirSync(work).find((n) => n.endsWith('.deb'));
    if (deb === undefined) throw new ControlError('microvm', `apt-get download left no .deb for ${pkg.name}`);
    // Why: apt checked it against the signed index already; checked again against the index's own checksum.
    if (pkg.sha256 !== undefined && (await sha256File(`${work}/${deb}`)) !== pkg.sha256) throw new ControlError('microvm', `${deb} does not match the SHA-256 apt's index lists`);
    await run('dpkg-deb', ['-x', `${work}/${deb}`, `${work}/x`], { env: APT_ENV, timeout: 300_000 });
    const kernelName = readdirSync(`${work}/x/boot`).find((n) => n.startsWith('vmlinuz-'));
    if (kernelName === undefined) throw new ControlError('microvm', `${deb} holds no /boot/vmlinuz-*`);
    const modulesRoot = `${work}/x/lib/modules/${kernelName.slice('vmlinuz-'.length)}`;
    const order = loadOrder(modulesRoot, GUEST_MODULES);
    const base = new Set(order.map((m) => m.name));
    // What grants add: their order with everything, less what the base list already loaded.
    const grantOrder = loadOrder(modulesRoot, [...GUEST_MODULES, ...GRANT_MODULES]).filter((m) => !base.has(m.name));
    const list = (modules: typeof order) => Buffer.from(modules.map((m) => `${m.name}.ko\n`).join(''));
    const entries: CpioEntry[] = [
      { kind: 'dir', path: 'lib', mode: 0o755 },
      { kind: 'dir', path: 'lib/modules', mode: 0o755 },
      ...[...order, ...grantOrder].map((m) => ({ kind: 'file' as const, path: `lib/modules/${m.name}.ko`, mode: 0o444, data: readFileSync(m.path) })),
      { kind: 'file', path: 'modules', mode: 0o444, data: list(order) },
      { kind: 'file', path: 'modules.grants', mode: 0o444, data: list(grantOrder) },
    ];
    await publishArtefact(kernel.modulesCpio, 'microvm', async (tmp) => writeFileSync(tmp, cpioArchive(entries), { mode: 0o644 }));
    await publishArtefact(kernel.vmlinuz, 'microvm', async (tmp) => writeFileSync(tmp, readFileSync(`${work}/x/boot/${kernelName}`), { mode: 0o644 }));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
