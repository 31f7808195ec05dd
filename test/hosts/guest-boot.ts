/**
 * Boots the test guest with QEMU and runs one shell script in it: the script's output comes back
 * over the serial console, its exit status through the shared job folder.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GuestImage } from './guest-image.ts';
import { guestCommandLine, parseGuestConsole } from './guest-console.ts';
import { detectAccel, TCG_CPU } from '../../src/isolation/microvm/qemu.ts';
import type { Accelerator } from '../../src/isolation/driver.ts';

/** Options for one guest run. */
export interface GuestRunOptions {
  /** Host folder shared read-only as the guest's /airlock (a tmpfs overlay makes it writable there). */
  checkout: string;
  /** More host folders shared the same way (read-only, overlaid in the guest), keyed by guest path. */
  shares?: Readonly<Record<string, string>>;
  /** Raw ext4 disk images mounted read-write in the guest, keyed by guest path; writes are thrown away. */
  disks?: Readonly<Record<string, string>>;
  /** Files the script writes into its job folder (/job in the guest) to hand back, by name. */
  collect?: readonly string[];
  timeoutMs?: number;
  memoryMiB?: number;
  cpus?: number;
  /** Load the distribution's AppArmor profiles before the script, as a booted Debian host does. */
  loadAppArmorProfiles?: boolean;
  /** Called with each chunk of the serial console as it arrives (to watch a slow boot). */
  onConsole?: (chunk: string) => void;
}

/** What one guest run gave back. */
export interface GuestRun {
  accel: Accelerator;
  /** The script's exit status; null when the guest never reported one (boot failure, timeout). */
  exitCode: number | null;
  /** The script's output (stdout and stderr together), without the boot messages. */
  output: string;
  /** Everything the serial console printed, boot included, for diagnosing a failure. */
  console: string;
  /** Milliseconds from starting QEMU to the guest's init being ready to run the script. */
  bootMs: number | null;
  /** The guest kernel's uptime, in seconds, when the script started. */
  guestUptimeAtReady: number | null;
  wallMs: number;
  timedOut: boolean;
  /** The collected job files that exist, by name. */
  files: Record<string, string>;
}

/**
 * KVM when it really works, TCG otherwise ($AIRLOCK_GUEST_ACCEL forces one): the microvm runtime's
 * own rule (an openable /dev/kvm without the CPU's vmx/svm is TCG).
 */
export function chooseAccel(): Accelerator {
  const forced = process.env.AIRLOCK_GUEST_ACCEL;
  if (forced === 'kvm' || forced === 'tcg') return forced;
  return detectAccel().accel;
}

/**
 * TCG's CPU model, shared with the microvm runtime: everything QEMU emulates except the AVX family
 * and protection keys. Why: with them V8 in the guest dies now and then (SIGSEGV, or SIGTRAP on
 * the failed check `it->second.Size() > offset` of its JIT page tracking) where the same Node on
 * the host never does. QEMU 7.2 (Debian 12) is the first to emulate AVX/AVX2, and turning them off
 * made it rarer; PKU is what V8 write-protects its code memory with (`--memory-protection-keys`,
 * on when the CPU has it: the host's doesn't, TCG's `max` does), and that failed check is in the
 * same machinery.
 */
export { TCG_CPU };

/** QEMU's CPU model: the host's under KVM, else {@link TCG_CPU} ($AIRLOCK_GUEST_CPU overrides either). */
function guestCpu(accel: Accelerator): string {
  const forced = process.env.AIRLOCK_GUEST_CPU;
  if (forced !== undefined && forced !== '') return forced;
  return accel === 'kvm' ? 'host' : TCG_CPU;
}

/**
 * QEMU's -accel value. Why TCG runs single-threaded (both vCPUs on one host thread): with one
 * thread per vCPU, Node in the guest died now and then in V8 (a failed check while walking the
 * stack from WebAssembly's tier-up, or SIGSEGV), under QEMU 7.2 and 10.0 alike and never on a
 * host; with one thread, whole runs under both passed. $AIRLOCK_GUEST_TCG_THREAD=multi brings
 * the threads back.
 */
export function accelOption(accel: Accelerator, env: NodeJS.ProcessEnv = process.env): string {
  if (accel !== 'tcg') return accel;
  return `tcg,thread=${env.AIRLOCK_GUEST_TCG_THREAD === 'multi' ? 'multi' : 'single'}`;
}

/** A value inside a QEMU option list, where a comma is written twice. */
function optionValue(value: string): string {
  return value.replaceAll(',', ',,');
}

/** The extra shares as 9p tags (share0, share1, …) and guest paths, in a stable order. */
function extraShares(options: GuestRunOptions): { tag: string; hostPath: string; guestPath: string }[] {
  return Object.entries(options.shares ?? {}).map(([guestPath, hostPath], i) => {
    if (!guestPath.startsWith('/') || /\s/.test(guestPath)) throw new Error(`guest: share path ${JSON.stringify(guestPath)} must be absolute, without spaces`);
    return { tag: `share${i}`, hostPath, guestPath };
  });
}

/** The extra disks as guest block devices (vdb, vdc, …: vda is the root) and guest paths. */
function extraDisks(options: GuestRunOptions): { device: string; hostPath: string; guestPath: string }[] {
  return Object.entries(options.disks ?? {}).map(([guestPath, hostPath], i) => {
    if (!guestPath.startsWith('/') || /\s/.test(guestPath) || i > 20) throw new Error(`guest: disk path ${JSON.stringify(guestPath)} must be absolute, without spaces`);
    return { device: `vd${String.fromCharCode(98 + i)}`, hostPath, guestPath };
  });
}

/** QEMU's argument vector for `image`, sharing `checkout`, `jobDir` and the extra shares. */
export function qemuArgs(image: GuestImage, accel: Accelerator, checkout: string, jobDir: string, options: GuestRunOptions): string[] {
  return [
    ...['-machine', 'q35', '-accel', accelOption(accel), '-cpu', guestCpu(accel)],
    ...['-m', String(options.memoryMiB ?? 2048), '-smp', String(options.cpus ?? 2)],
    ...['-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-no-reboot', '-nodefaults'],
    ...['-kernel', image.kernel, '-initrd', image.initrd, '-append', guestCommandLine(options.loadAppArmorProfiles ?? false)],
    // Why: snapshot=on sends the guest's writes to a throwaway overlay; the cached image never changes.
    ...['-drive', `file=${optionValue(image.rootfs)},format=raw,if=virtio,snapshot=on`],
    ...['-virtfs', `local,path=${optionValue(checkout)},mount_tag=airlock,security_model=none,readonly=on`],
    ...['-virtfs', `local,path=${optionValue(jobDir)},mount_tag=job,security_model=none`],
    ...extraShares(options).flatMap((share) => ['-virtfs', `local,path=${optionValue(share.hostPath)},mount_tag=${share.tag},security_model=none,readonly=on`]),
    // Why: snapshot=on again: a disk made on the host is the same for every boot.
    ...extraDisks(options).flatMap((disk) => ['-drive', `file=${optionValue(disk.hostPath)},format=raw,if=virtio,snapshot=on`]),
  ];
}

/** Boots `image`, runs `script` (bash, in the checkout) inside and returns what came back. */
export async function runInGuest(image: GuestImage, script: string, options: GuestRunOptions): Promise<GuestRun> {
  const accel = chooseAccel();
  const jobDir = await mkdtemp(join(tmpdir(), 'airlock-guest-job-'));
  try {
    await writeFile(join(jobDir, 'command'), script, { mode: 0o755 });
    await writeFile(join(jobDir, 'shares'), extraShares(options).map((share) => `${share.tag} ${share.guestPath}\n`).join(''));
    await writeFile(join(jobDir, 'disks'), extraDisks(options).map((disk) => `${disk.device} ${disk.guestPath}\n`).join(''));
    const started = performance.now();
    const boot = await bootUntilExit(image.qemu.binary, qemuArgs(image, accel, options.checkout, jobDir, options), options, started);
    const wallMs = Math.round(performance.now() - started);
    const parsed = parseGuestConsole(boot.console);
    const exitFile = await readFile(join(jobDir, 'exit'), 'utf8').catch(() => undefined);
    const exitCode = exitFile !== undefined && /^\d+\s*$/.test(exitFile) ? Number(exitFile) : parsed.exitCode;
    const files: Record<string, string> = {};
    for (const name of options.collect ?? []) {
      if (name.includes('/')) throw new Error(`guest: collected file ${JSON.stringify(name)} must be a plain name`);
      const text = await readFile(join(jobDir, name), 'utf8').catch(() => undefined);
      if (text !== undefined) files[name] = text;
    }
    return { accel, exitCode, output: parsed.output, console: boot.console, bootMs: boot.readyMs, guestUptimeAtReady: parsed.uptimeAtReady, wallMs, timedOut: boot.timedOut, files };
  } finally {
    await rm(jobDir, { recursive: true, force: true });
  }
}

interface Boot {
  console: string;
  readyMs: number | null;
  timedOut: boolean;
}

function bootUntilExit(binary: string, args: string[], options: GuestRunOptions, started: number): Promise<Boot> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    // Why: an emulated guest is CPU-bound for its whole run; it yields to the rest of the host.
    if (child.pid !== undefined) setPriority(child.pid, 10);
    let consoleText = '';
    let readyMs: number | null = null;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 300_000);
    const take = (text: string) => {
      consoleText += text;
      if (readyMs === null && consoleText.includes('@@AIRLOCK-GUEST-READY')) readyMs = Math.round(performance.now() - started);
      options.onConsole?.(text);
    };
    // A stream's decoder keeps a character split across two chunks whole.
    child.stdout.setEncoding('utf8').on('data', take);
    child.stderr.setEncoding('utf8').on('data', take);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', () => {
      clearTimeout(timer);
      resolve({ console: consoleText, readyMs, timedOut });
    });
  });
}
