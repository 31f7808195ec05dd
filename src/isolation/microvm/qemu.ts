/**
 * QEMU `-M microvm` for one sandbox: accelerator choice, the guest's sizes, and the argument
 * vector. The VMM opens no host path: every file it needs is a descriptor the controller hands it
 * (see {@link VMM_FD}), and the control channel is an already-connected socket.
 */
import { constants, accessSync, existsSync, readFileSync } from 'node:fs';
import { ControlError } from '../../host/control-error.ts';
import type { Accelerator } from '../driver.ts';

/** Debian's QEMU system emulator for x86-64 (qemu-system-x86). */
export const QEMU_BINARY = '/usr/bin/qemu-system-x86_64';

/**
 * TCG's CPU model: everything QEMU emulates except the AVX family and protection keys (with them
 * V8 in a TCG guest crashed now and then; see test/hosts/guest-boot.ts, which uses this too).
 */
export const TCG_CPU = 'max,-avx,-avx2,-fma,-f16c,-pku';

/**
 * Memory the guest kernel and init use beside the sandbox's own limit (the guest's RAM is the
 * limit plus this; the sandbox's guest cgroup gets exactly the limit).
 */
export const GUEST_KERNEL_MB = 96;

/**
 * Host memory of the VMM beside the guest's RAM: QEMU itself and, under TCG, its translation
 * cache (capped at {@link TCG_TB_MB}). The host cgroup's limit is guest RAM + this: a guest that
 * fills its RAM is OOM-killed inside the guest, never the VMM by the host.
 */
export const VMM_OVERHEAD_MB = 160;

/** TCG translation-block cache size (QEMU's default is 1 GiB of address space on 64-bit hosts). */
export const TCG_TB_MB = 64;

/** The VMM's descriptors, as the controller sets up its stdio list. */
export const VMM_FD = Object.freeze({
  /** QEMU's stdout: the guest's serial console (boot diagnostics). */
  console: 1,
  /** Parked launch: the launcher execs the VMM once a byte arrives (after the cgroup move). */
  park: 3,
  /** The control channel: a connected socket, the guest's virtio-serial port `airlock.ctl`. */
  control: 4,
  /** The image's erofs root, read-only (handed to QEMU as an fd set: never reopened by path). */
  root: 5,
  kernel: 6,
  initrd: 7,
  /** The per-boot secret file (0400, owned by the VMM's uid), exposed to the guest via fw_cfg. */
  secret: 8,
  /** Attached networks: the tap, opened by root in the slot's namespace after the descriptors above were sorted out (tap-open.c). */
  tap: 9,
  /** A restore: the snapshot, read-only (snapshot.ts; `-incoming fd:`). */
  snapshot: 10,
  /** A capture: QEMU's monitor (QMP), a connected socket, for the snapshot's migration only. */
  monitor: 11,
  /** Grants: from here on, in order, each a connected vhost-user socket to its file server (file-server.ts). */
  firstGrant: 12,
});

/** Descriptors 0 .. this-1 reach the VMM; every other one is closed before it runs. */
export const VMM_FD_COUNT = 9;

/** Whether KVM really works here, and why not when it doesn't. */
export function detectAccel(): { accel: Accelerator; reason: string } {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch (err) {
    return { accel: 'tcg', reason: `/dev/kvm not usable (${(err as NodeJS.ErrnoException).code ?? err})` };
  }
  // An openable /dev/kvm is not enough: nested hosts expose it without the CPU's vmx/svm.
  if (!/^flags\s*:.*\b(vmx|svm)\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'))) return { accel: 'tcg', reason: '/dev/kvm present but the CPU offers no vmx/svm' };
  return { accel: 'kvm', reason: '/dev/kvm usable' };
}

/** The QEMU binary, or a ControlError naming the package. */
export function requireQemu(): string {
  if (!existsSync(QEMU_BINARY)) throw new ControlError('microvm', 'qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)');
  return QEMU_BINARY;
}

/**
 * The host's TSC frequency in kHz. Under TCG the guest reads the host's TSC; with microvm's PIT off
 * (it hangs about 1 boot in 5 under TCG) the guest can only calibrate it if told (`tsc_early_khz`).
 */
export function hostTscKhz(): number {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const mhz = /^cpu MHz\s*:\s*([\d.]+)/m.exec(cpuinfo)?.[1];
  if (mhz === undefined || !(Number(mhz) > 0)) throw new ControlError('microvm', 'cannot read the host CPU frequency from /proc/cpuinfo (needed to boot without a PIT under TCG)');
  return Math.round(Number(mhz) * 1000);
}

/** The guest's sizes for a sandbox's limits. */
export interface VmSizes {
  guestMb: number;
  cpus: number;
  /** The host cgroup's memory limit for the VMM process. */
  hostMb: number;
}

/** Guest RAM = limit + guest kernel; host limit = guest RAM + VMM overhead; vCPUs = the quota rounded up. */
export function vmSizes(memoryMb: number, cpuCores: number): VmSizes {
  const guestMb = memoryMb + GUEST_KERNEL_MB;
  return { guestMb, cpus: Math.max(1, Math.ceil(cpuCores)), hostMb: guestMb + VMM_OVERHEAD_MB };
}

/** The tap device in the slot's namespace (see tap.ts) whose descriptor QEMU gets on attached networks. */
export const GUEST_TAP = 'airlock-tap';

/**
 * A grant's virtio-fs device: its server (file-server.ts) is on the other end of the connected
 * vhost-user socket QEMU is handed; QEMU itself opens no host path for it.
 */
function grantArgs(index: number): string[] {
  return ['-chardev', `socket,id=grant${index},fd=${VMM_FD.firstGrant + index}`, '-device', `vhost-user-fs-device,chardev=grant${index},tag=airlock${index},queue-size=1024`];
}

/**
 * What a snapshot adds to {@link qemuArgs} (snapshot.ts): a restore reads the guest's state from
 * its descriptor and runs it; a capture gets a monitor, on a socket only the controller holds.
 */
export function snapshotArgs(kind: 'capture' | 'restore' | undefined): string[] {
  if (kind === 'restore') return ['-incoming', `fd:${VMM_FD.snapshot}`];
  if (kind === 'capture') return ['-chardev', `socket,id=mon,fd=${VMM_FD.monitor}`, '-mon', 'chardev=mon,mode=control'];
  return [];
}

/** QEMU's argument vector (without the binary); `tap`: an attached network (the tap is {@link VMM_FD}.tap); `grants`: how many. */
export function qemuArgs(accel: Accelerator, sizes: VmSizes, tscKhz: number | undefined, tap = false, grants = 0): string[] {
  const fd = (n: number) => `/proc/self/fd/${n}`;
  const append = ['console=ttyS0', 'quiet', 'panic=-1', 'reboot=t', ...(accel === 'tcg' && tscKhz !== undefined ? [`tsc_early_khz=${tscKhz}`] : [])];
  return [
    // Why pit=off: microvm's PIT hangs about 1 boot in 5 under TCG; the TSC replaces it (see hostTscKhz).
    // Why mem-merge=off: a host running KSM would merge identical pages across guests, and the
    // time a write to a merged page takes tells one guest what another holds (a cross-tenant side
    // channel). Why dump-guest-core=off: a crashed VMM's core dump must not carry the guest's memory.
    ...['-M', `microvm,pit=off,pic=off,rtc=on,isa-serial=on,mem-merge=off,dump-guest-core=off${grants > 0 ? ',memory-backend=ram' : ''}`, '-accel', accel === 'tcg' ? `tcg,tb-size=${TCG_TB_MB}` : 'kvm'],
    // Why shared memory only with grants: a vhost-user file server must map the guest's RAM to serve it;
    // and modern virtio-mmio, which the file server's vhost-user library requires (microvm defaults to legacy).
    ...(grants > 0 ? ['-object', `memory-backend-memfd,id=ram,size=${sizes.guestMb}M,share=on`, '-global', 'virtio-mmio.force-legacy=false'] : []),
    ...['-cpu', accel === 'tcg' ? TCG_CPU : 'host', '-m', String(sizes.guestMb), '-smp', String(sizes.cpus)],
    // Why: no default devices, no config files read, no monitor, no display: only what follows exists.
    ...['-nodefaults', '-no-user-config', '-display', 'none', '-serial', 'stdio', '-no-reboot'],
    ...['-kernel', fd(VMM_FD.kernel), '-initrd', fd(VMM_FD.initrd), '-append', append.join(' ')],
    ...['-device', 'virtio-serial-device', '-chardev', `socket,id=ctl,fd=${VMM_FD.control}`, '-device', 'virtserialport,chardev=ctl,name=airlock.ctl'],
    // Why an fd set: QEMU dups the read-only descriptor; it never opens the image by path.
    ...['-add-fd', `fd=${VMM_FD.root},set=1`, '-drive', 'id=root,file=/dev/fdset/1,format=raw,if=none,readonly=on', '-device', 'virtio-blk-device,drive=root'],
    ...['-fw_cfg', `name=opt/airlock/secret,file=${fd(VMM_FD.secret)}`],
    // Why a descriptor and no vhost: QEMU opens no device and runs no helper script for its network.
    ...(tap ? ['-netdev', `tap,id=net0,fd=${VMM_FD.tap},vhost=off`, '-device', 'virtio-net-device,netdev=net0'] : []),
    ...Array.from({ length: grants }, (_, i) => grantArgs(i)).flat(),
    // Why: QEMU's own seccomp filter; it may not exec, raise privileges or change host scheduling.
    ...['-sandbox', 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny'],
  ];
}
