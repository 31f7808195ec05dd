/**
 * A small classic-BPF interpreter over `struct seccomp_data`, used only by tests to run compiled
 * filters on synthetic syscalls. It refuses anything the kernel would refuse or that a correct
 * filter never needs (unknown opcodes, out-of-range loads, jumps past the end).
 */
import type { SockFilter } from './bpf-asm.ts';

/** A synthetic syscall as the filter sees it. Args are full 64-bit values. */
export interface SeccompData {
  readonly nr: number;
  readonly arch: number;
  readonly instructionPointer?: bigint;
  readonly args?: readonly bigint[];
}

/** Size of `struct seccomp_data`. */
const SECCOMP_DATA_SIZE = 64;

/** Lays out `data` as the kernel does (little-endian). */
export function seccompDataBytes(data: SeccompData): Buffer {
  const buf = Buffer.alloc(SECCOMP_DATA_SIZE);
  buf.writeInt32LE(data.nr | 0, 0);
  buf.writeUInt32LE(data.arch >>> 0, 4);
  buf.writeBigUInt64LE(BigInt.asUintN(64, data.instructionPointer ?? 0n), 8);
  const args = data.args ?? [];
  for (let i = 0; i < 6; i++) buf.writeBigUInt64LE(BigInt.asUintN(64, args[i] ?? 0n), 16 + 8 * i);
  return buf;
}

/** Runs `program` on `data` and returns the filter's 32-bit verdict. */
export function runFilter(program: readonly SockFilter[], data: SeccompData): number {
  const mem = seccompDataBytes(data);
  let a = 0;
  let pc = 0;
  for (let steps = 0; steps <= program.length; steps++) {
    const ins = program[pc];
    if (ins === undefined) throw new Error(`BPF: pc ${pc} ran past the end of the program`);
    const next = pc + 1;
    switch (ins.code) {
      case 0x20: // ld [k]
        if (ins.k % 4 !== 0 || ins.k + 4 > SECCOMP_DATA_SIZE) throw new Error(`BPF: bad load offset ${ins.k}`);
        a = mem.readUInt32LE(ins.k);
        pc = next;
        break;
      case 0x00: // ld #k
        a = ins.k >>> 0;
        pc = next;
        break;
      case 0x54: // and #k
        a = (a & ins.k) >>> 0;
        pc = next;
        break;
      case 0x44: // or #k
        a = (a | ins.k) >>> 0;
        pc = next;
        break;
      case 0x05: // ja k
        pc = next + ins.k;
        break;
      case 0x15: // jeq
        pc = next + (a === ins.k >>> 0 ? ins.jt : ins.jf);
        break;
      case 0x25: // jgt
        pc = next + (a > ins.k >>> 0 ? ins.jt : ins.jf);
        break;
      case 0x35: // jge
        pc = next + (a >= ins.k >>> 0 ? ins.jt : ins.jf);
        break;
      case 0x45: // jset
        pc = next + ((a & ins.k) !== 0 ? ins.jt : ins.jf);
        break;
      case 0x06: // ret #k
        return ins.k >>> 0;
      case 0x16: // ret a
        return a >>> 0;
      default:
        throw new Error(`BPF: unsupported opcode 0x${ins.code.toString(16)} at ${pc}`);
    }
  }
  throw new Error('BPF: program did not return (a loop is impossible in classic BPF)');
}

/**
 * Static checks: every jump lands inside the program, and the last instruction returns, so
 * no path can fall off the end. Returns the list of problems (empty when sound).
 */
export function jumpProblems(program: readonly SockFilter[]): string[] {
  const problems: string[] = [];
  const isJump = (code: number): boolean => (code & 0x07) === 0x05;
  program.forEach((ins, pc) => {
    if (!isJump(ins.code)) return;
    const targets = ins.code === 0x05 ? [ins.k] : [ins.jt, ins.jf];
    for (const off of targets) {
      if (pc + 1 + off >= program.length) problems.push(`instruction ${pc} jumps to ${pc + 1 + off} (length ${program.length})`);
    }
  });
  const last = program[program.length - 1];
  if (last === undefined || (last.code & 0x07) !== 0x06) problems.push('the last instruction is not a return');
  return problems;
}
