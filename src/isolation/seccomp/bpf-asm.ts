/**
 * Classic BPF as seccomp uses it: opcodes, return values, the `seccomp_data` layout, and a tiny
 * assembler with labels whose only job is to refuse a jump that does not fit in a u8.
 */
import { ControlError } from '../../host/control-error.ts';

/** `struct sock_filter`: u16 code, u8 jt, u8 jf, u32 k. */
export interface SockFilter {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

/** Size in bytes of one `struct sock_filter`. */
export const SOCK_FILTER_SIZE = 8;
/** The kernel refuses programs longer than this (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;

/** ld word at absolute offset into seccomp_data (BPF_LD|BPF_W|BPF_ABS). */
export const BPF_LD_W_ABS = 0x20;
/** A &= k (BPF_ALU|BPF_AND|BPF_K). */
export const BPF_ALU_AND_K = 0x54;
/** if A == k (BPF_JMP|BPF_JEQ|BPF_K). */
export const BPF_JEQ_K = 0x15;
/** if A > k, unsigned (BPF_JMP|BPF_JGT|BPF_K). */
export const BPF_JGT_K = 0x25;
/** if A >= k, unsigned (BPF_JMP|BPF_JGE|BPF_K). */
export const BPF_JGE_K = 0x35;
/** if A & k (BPF_JMP|BPF_JSET|BPF_K). */
export const BPF_JSET_K = 0x45;
/** pc += k, unconditionally, with a 32-bit offset (BPF_JMP|BPF_JA). */
export const BPF_JA = 0x05;
/** return k (BPF_RET|BPF_K). */
export const BPF_RET_K = 0x06;

/** Kills the whole process (all threads); used for foreign ABIs. */
export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
/** Kills the calling thread only. */
export const SECCOMP_RET_KILL_THREAD = 0x00000000;
/** Sends SIGSYS. */
export const SECCOMP_RET_TRAP = 0x00030000;
/** Fails the syscall with the errno in the low 16 bits. */
export const SECCOMP_RET_ERRNO = 0x00050000;
/** Hands the syscall to a user-space notifier. */
export const SECCOMP_RET_USER_NOTIF = 0x7fc00000;
/** Notifies a ptrace tracer; without one the syscall fails with ENOSYS. */
export const SECCOMP_RET_TRACE = 0x7ff00000;
/** Allows the syscall and logs it. */
export const SECCOMP_RET_LOG = 0x7ffc0000;
/** Allows the syscall. */
export const SECCOMP_RET_ALLOW = 0x7fff0000;
/** Mask of the action part of a return value. */
export const SECCOMP_RET_ACTION_FULL = 0xffff0000;
/** Mask of the data part (the errno for SECCOMP_RET_ERRNO). */
export const SECCOMP_RET_DATA = 0x0000ffff;

/** Offset of `nr` in `struct seccomp_data`. */
export const SECCOMP_DATA_NR = 0;
/** Offset of `arch` in `struct seccomp_data`. */
export const SECCOMP_DATA_ARCH = 4;

/**
 * Offset of the low 32-bit word of argument `i` (args start at 16, 8 bytes each). Both
 * supported architectures are little-endian, so the low word comes first.
 */
export function argLowOffset(i: number): number {
  return 16 + 8 * i;
}

/** A jump target: a relative count already, or a label resolved by `assemble`. */
export type Target = number | string;

/** One instruction before assembly, or a label marking the position of the next one. */
export type AsmItem =
  | { readonly kind: 'insn'; readonly code: number; readonly k: number; readonly jt: Target; readonly jf: Target }
  | { readonly kind: 'ja'; readonly target: string }
  | { readonly kind: 'label'; readonly name: string };

/** A non-jump instruction. */
export function stmt(code: number, k: number): AsmItem {
  return { kind: 'insn', code, k: k >>> 0, jt: 0, jf: 0 };
}

/** A conditional jump; `jt`/`jf` are relative counts or labels. */
export function jump(code: number, k: number, jt: Target, jf: Target): AsmItem {
  return { kind: 'insn', code, k: k >>> 0, jt, jf };
}

/** An unconditional forward jump to a label; its 32-bit offset reaches past what jt/jf can. */
export function ja(target: string): AsmItem {
  return { kind: 'ja', target };
}

/** A label at the position of the next instruction. */
export function label(name: string): AsmItem {
  return { kind: 'label', name };
}

/**
 * Resolves labels into u8 relative offsets. Throws when a label is unknown, repeated, behind the
 * jump, or more than 255 instructions ahead: a wrapped offset would silently skip the wrong code.
 */
export function assemble(items: readonly AsmItem[]): SockFilter[] {
  const positions = new Map<string, number>();
  let pc = 0;
  for (const item of items) {
    if (item.kind === 'label') {
      if (positions.has(item.name)) throw new ControlError('seccomp', `BPF label "${item.name}" defined twice`);
      positions.set(item.name, pc);
    } else {
      pc += 1;
    }
  }
  const out: SockFilter[] = [];
  for (const item of items) {
    if (item.kind === 'label') continue;
    const here = out.length;
    if (item.kind === 'ja') {
      const off = relative(positions, item.target, here);
      // Why: classic BPF only jumps forward; a negative offset would wrap into a huge one.
      if (off < 0) throw new ControlError('seccomp', `BPF jump to "${item.target}" at instruction ${here} goes backwards`);
      out.push({ code: BPF_JA, k: off, jt: 0, jf: 0 });
      continue;
    }
    const resolve = (t: Target): number => {
      const off = typeof t === 'number' ? t : relative(positions, t, here);
      // Why: jt/jf are u8 and forward-only; anything else would be truncated into a wrong jump.
      if (!Number.isInteger(off) || off < 0 || off > 255) {
        throw new ControlError('seccomp', `BPF jump offset ${off} at instruction ${here} does not fit in a u8`);
      }
      return off;
    };
    out.push({ code: item.code, k: item.k, jt: resolve(item.jt), jf: resolve(item.jf) });
  }
  return out;
}

/** Distance from the instruction after `here` to label `name`. */
function relative(positions: ReadonlyMap<string, number>, name: string, here: number): number {
  const at = positions.get(name);
  if (at === undefined) throw new ControlError('seccomp', `BPF label "${name}" is not defined`);
  return at - (here + 1);
}

/** Serialises instructions as the little-endian `struct sock_filter[]` the kernel reads. */
export function encode(program: readonly SockFilter[]): Buffer {
  const buf = Buffer.alloc(program.length * SOCK_FILTER_SIZE);
  program.forEach((ins, i) => {
    const o = i * SOCK_FILTER_SIZE;
    buf.writeUInt16LE(ins.code, o);
    buf.writeUInt8(ins.jt, o + 2);
    buf.writeUInt8(ins.jf, o + 3);
    buf.writeUInt32LE(ins.k >>> 0, o + 4);
  });
  return buf;
}

/** Parses a `struct sock_filter[]` buffer back into instructions. */
export function decode(buf: Buffer): SockFilter[] {
  if (buf.length % SOCK_FILTER_SIZE !== 0) {
    throw new ControlError('seccomp', `BPF program size ${buf.length} is not a multiple of ${SOCK_FILTER_SIZE}`);
  }
  const out: SockFilter[] = [];
  for (let o = 0; o < buf.length; o += SOCK_FILTER_SIZE) {
    out.push({ code: buf.readUInt16LE(o), jt: buf.readUInt8(o + 2), jf: buf.readUInt8(o + 3), k: buf.readUInt32LE(o + 4) });
  }
  return out;
}
