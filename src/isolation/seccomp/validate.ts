/**
 * Checks shared by both compilers: a malformed profile is refused before anything is emitted.
 */
import { ControlError } from '../../host/control-error.ts';
import { X86_64_SYSCALLS } from './syscalls.ts';
import { ERRNO_VALUES } from './profile.ts';
import type { ArgCheck, SeccompProfile, SyscallRule } from './profile.ts';

/** Throws a `seccomp` ControlError naming the first problem in `profile`. */
export function validateProfile(profile: SeccompProfile): void {
  // Why: both compilers assume an allow list plus refusals; anything else must not compile silently.
  if (profile.defaultAction !== 'refuse') fail(`unsupported default action "${String(profile.defaultAction)}"`);
  const allowed = new Set<string>();
  for (const call of profile.allow) {
    if (!Object.hasOwn(X86_64_SYSCALLS, call.syscall)) fail(`allowed ${call.syscall}: unknown syscall`);
    if (allowed.has(call.syscall)) fail(`allowed ${call.syscall}: listed twice`);
    if (call.reason.trim() === '') fail(`allowed ${call.syscall}: no reason`);
    allowed.add(call.syscall);
  }
  for (const rule of profile.rules) {
    const where = `rule for ${rule.syscall}`;
    if (!Object.hasOwn(X86_64_SYSCALLS, rule.syscall)) fail(`${where}: unknown syscall`);
    if (!Object.hasOwn(ERRNO_VALUES, rule.errno)) fail(`${where}: unknown errno "${rule.errno}"`);
    const conditional = rule.when !== undefined && rule.when.length > 0;
    // Why: a condition on a call that is refused anyway would read as protection that does nothing.
    if (conditional && !allowed.has(rule.syscall)) fail(`${where}: conditional refusal of a call that is not allowed`);
    // Why: an unconditional rule on an allowed call contradicts the allow list; EPERM is already the default.
    if (!conditional && allowed.has(rule.syscall)) fail(`${where}: refuses an allowed call outright`);
    if (!conditional && rule.errno === 'EPERM') fail(`${where}: EPERM is the default for calls that are not allowed`);
    for (const check of rule.when ?? []) validateCheck(check, where);
  }
}

/** Validates one argument check. */
function validateCheck(check: ArgCheck, where: string): void {
  if (!Number.isInteger(check.arg) || check.arg < 0 || check.arg > 5) fail(`${where}: argument index ${check.arg}`);
  switch (check.op) {
    case 'eq':
      u32(check.value, where);
      return;
    case 'maskedEq':
      u32(check.mask, where);
      u32(check.value, where);
      // Why: a value with bits outside the mask can never match, so the rule would deny nothing.
      if (check.mask === 0 || (check.value & ~check.mask) !== 0) fail(`${where}: value has bits outside the mask`);
      return;
    case 'anyBitSet':
      u32(check.mask, where);
      if (check.mask === 0) fail(`${where}: empty mask`);
      return;
    case 'notIn':
      // Why: an empty set would deny every call, which is not what a "not in" rule means to say.
      if (check.values.length === 0) fail(`${where}: empty "notIn" set`);
      for (const v of check.values) u32(v, where);
      return;
    default:
      fail(`${where}: unknown check ${JSON.stringify(check)}`);
  }
}

/** Refuses anything that is not an unsigned 32-bit integer. */
function u32(n: number, where: string): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) fail(`${where}: ${n} is not an unsigned 32-bit value`);
}

/** Throws the `seccomp` ControlError. */
function fail(message: string): never {
  throw new ControlError('seccomp', `invalid profile: ${message}`);
}

/**
 * Rules grouped by syscall, in order of first appearance, keeping each group's rule order.
 * The BPF compiler needs one block per syscall: a block cannot fall through to a later one.
 */
export function groupRules(rules: readonly SyscallRule[]): SyscallRule[][] {
  const groups = new Map<string, SyscallRule[]>();
  for (const rule of rules) {
    const group = groups.get(rule.syscall);
    if (group === undefined) groups.set(rule.syscall, [rule]);
    else group.push(rule);
  }
  return [...groups.values()];
}
