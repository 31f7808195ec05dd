/**
 * Compiles a SeccompProfile into the raw `struct sock_filter[]` that bubblewrap's
 * `--seccomp FD` loads. Program shape:
 *
 *   ld arch; native? else KILL_PROCESS      (i386 `int 0x80`, arm32 compat, … die)
 *   ld nr; [x86_64] nr >= 0x40000000? KILL_PROCESS   (x32 ABI)
 *   per ruled syscall: jeq nr,0,1 ; ret ERRNO          (unconditional answer, e.g. clone3 ENOSYS)
 *             or jeq nr,0,<end> ; checks… ret ERRNO ; … ; ret ALLOW   (argument block)
 *   table lookup: a binary search over runs of consecutive syscall numbers with one verdict
 *             (ALLOW, or EPERM for a known call that is not allowed); a number in no run is
 *             unknown to the table and answers ENOSYS.
 *
 * Conditional jumps are short and checked by the assembler; the search reaches its subtrees
 * with `ja`, whose offset is 32 bits. An argument block reloads A, so it ends with its own
 * RET ALLOW instead of falling through to compares that expect A == nr.
 */
import { ControlError } from '../../host/control-error.ts';
import { auditArch, syscallNumber, syscallTable, X32_SYSCALL_BIT } from './arch.ts';
import type { Arch } from './arch.ts';
import {
  argLowOffset,
  assemble,
  BPF_ALU_AND_K,
  BPF_JEQ_K,
  BPF_JGE_K,
  BPF_JGT_K,
  BPF_JSET_K,
  BPF_LD_W_ABS,
  BPF_MAXINSNS,
  BPF_RET_K,
  encode,
  ja,
  jump,
  label,
  SECCOMP_DATA_ARCH,
  SECCOMP_DATA_NR,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  stmt,
} from './bpf-asm.ts';
import type { AsmItem, SockFilter } from './bpf-asm.ts';
import { ERRNO_VALUES } from './profile.ts';
import type { ArgCheck, SeccompProfile, SyscallRule } from './profile.ts';
import { splitTable } from './split.ts';
import { groupRules, validateProfile } from './validate.ts';

/** Compiles `profile` for `arch` into the bytes bubblewrap reads from its `--seccomp` fd. */
export function compileBpf(profile: SeccompProfile, arch: Arch): Buffer {
  return encode(compileProgram(profile, arch));
}

/** Compiles `profile` for `arch` into instructions (what `compileBpf` encodes). */
export function compileProgram(profile: SeccompProfile, arch: Arch): SockFilter[] {
  validateProfile(profile);
  const items: AsmItem[] = [
    stmt(BPF_LD_W_ABS, SECCOMP_DATA_ARCH),
    // Why: syscall numbers mean different calls under other ABIs, so a foreign ABI is killed, not filtered.
    jump(BPF_JEQ_K, auditArch(arch), 1, 0),
    stmt(BPF_RET_K, SECCOMP_RET_KILL_PROCESS),
    stmt(BPF_LD_W_ABS, SECCOMP_DATA_NR),
  ];
  if (arch === 'x86_64') {
    // Why: x32 syscalls share AUDIT_ARCH_X86_64 and differ only by bit 30; they would dodge every rule below.
    items.push(jump(BPF_JGE_K, X32_SYSCALL_BIT, 0, 1), stmt(BPF_RET_K, SECCOMP_RET_KILL_PROCESS));
  }
  groupRules(profile.rules).forEach((rules, g) => {
    const first = rules[0];
    if (first === undefined) return;
    const nr = syscallNumber(arch, first.syscall);
    // Why: a call the architecture lacks cannot be made there; its rule has nothing to match.
    if (nr === undefined) return;
    if (first.when === undefined || first.when.length === 0) {
      items.push(jump(BPF_JEQ_K, nr, 0, 1), stmt(BPF_RET_K, errnoReturn(first)));
      return;
    }
    const end = `g${g}:end`;
    items.push(jump(BPF_JEQ_K, nr, 0, end));
    rules.forEach((rule, r) => {
      const fail = `g${g}:r${r}:fail`;
      for (const check of rule.when ?? []) items.push(...compileCheck(check, fail));
      items.push(stmt(BPF_RET_K, errnoReturn(rule)), label(fail));
    });
    // Why: A now holds an argument, not nr, so this syscall's block must decide on its own.
    items.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW), label(end));
  });
  items.push(...lookup(verdictRuns(profile, arch), 0, -1));
  const program = assemble(items);
  // Why: the kernel refuses longer programs, and a sandbox must never start unfiltered.
  if (program.length >= BPF_MAXINSNS) {
    throw new ControlError('seccomp', `BPF program has ${program.length} instructions; the limit is ${BPF_MAXINSNS - 1}`);
  }
  return program;
}

/** Consecutive syscall numbers [first, last] that share one RET value. */
interface Run {
  first: number;
  last: number;
  ret: number;
}

const RET_EPERM = (SECCOMP_RET_ERRNO | ERRNO_VALUES.EPERM) >>> 0;
const RET_ENOSYS = (SECCOMP_RET_ERRNO | ERRNO_VALUES.ENOSYS) >>> 0;

/**
 * The table's numbers as runs: allowed calls ALLOW, other known calls EPERM. A number a rule
 * block already answered never reaches the lookup, so it joins whichever run it touches.
 */
function verdictRuns(profile: SeccompProfile, arch: Arch): Run[] {
  const split = splitTable(profile, arch);
  const table = syscallTable(arch);
  const ruled = new Set(profile.rules.map((r) => r.syscall));
  const entries: { nr: number; ret: number | undefined }[] = [
    ...split.allowed.map((n) => ({ nr: table[n] ?? -1, ret: ruled.has(n) ? undefined : SECCOMP_RET_ALLOW })),
    ...split.refused.map((n) => ({ nr: table[n] ?? -1, ret: RET_EPERM })),
    ...split.answered.map((n) => ({ nr: table[n] ?? -1, ret: undefined })),
  ].sort((x, y) => x.nr - y.nr);
  // Why any verdict will do for a ruled number: its rule block returned before the lookup.
  entries.forEach((e, i) => {
    if (e.ret !== undefined) return;
    const before = entries[i - 1];
    const after = entries.slice(i + 1).find((x) => x.ret !== undefined);
    if (before?.ret !== undefined && before.nr === e.nr - 1) e.ret = before.ret;
    else if (after !== undefined && after.nr - e.nr === entries.indexOf(after) - i) e.ret = after.ret;
    else e.ret = RET_EPERM;
  });
  const runs: Run[] = [];
  for (const { nr, ret } of entries) {
    const last = runs[runs.length - 1];
    if (last !== undefined && last.last + 1 === nr && last.ret === ret) last.last = nr;
    else runs.push({ first: nr, last: nr, ret: ret ?? RET_EPERM });
  }
  return runs;
}

/**
 * Binary search over `runs[lo..hi]` (hi < 0: all). Every path ends in a leaf that checks the
 * run's bounds itself, so a number between runs answers ENOSYS whatever the search assumed.
 */
function lookup(runs: readonly Run[], lo: number, hi: number): AsmItem[] {
  const end = hi < 0 ? runs.length - 1 : hi;
  if (end < lo) return [stmt(BPF_RET_K, RET_ENOSYS)];
  const run = runs[lo];
  if (lo === end && run !== undefined) {
    return [
      jump(BPF_JGT_K, run.last, 2, 0),
      jump(BPF_JGE_K, run.first, 0, 1),
      stmt(BPF_RET_K, run.ret),
      stmt(BPF_RET_K, RET_ENOSYS),
    ];
  }
  const mid = (lo + end + 1) >> 1;
  const pivot = runs[mid];
  if (pivot === undefined) throw new ControlError('seccomp', `lookup pivot ${mid} out of range`);
  const right = `run${mid}`;
  return [
    jump(BPF_JGE_K, pivot.first, 0, 1),
    ja(right),
    ...lookup(runs, lo, mid - 1),
    label(right),
    ...lookup(runs, mid, end),
  ];
}

/** The RET value of a matched rule. */
function errnoReturn(rule: SyscallRule): number {
  return (SECCOMP_RET_ERRNO | ERRNO_VALUES[rule.errno]) >>> 0;
}

/** Instructions that fall through when `check` holds and jump to `fail` otherwise. */
function compileCheck(check: ArgCheck, fail: string): AsmItem[] {
  // Why: only the low word is loaded, since the kernel truncates these int arguments (CVE-2019-10063).
  const load = stmt(BPF_LD_W_ABS, argLowOffset(check.arg));
  switch (check.op) {
    case 'eq':
      return [load, jump(BPF_JEQ_K, check.value, 0, fail)];
    case 'maskedEq':
      return [load, stmt(BPF_ALU_AND_K, check.mask), jump(BPF_JEQ_K, check.value, 0, fail)];
    case 'anyBitSet':
      return [load, jump(BPF_JSET_K, check.mask, 0, fail)];
    case 'notIn':
      return [load, ...check.values.map((v) => jump(BPF_JEQ_K, v, fail, 0))];
  }
}
