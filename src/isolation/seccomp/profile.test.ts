import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ControlError } from '../../host/control-error.ts';
import { hostArch } from './arch.ts';
import { ALLOWED_CALLS } from './allowed.ts';
import { CLONE_NAMESPACE_FLAGS, DEFAULT_PROFILE } from './profile.ts';
import { REFUSED_CALLS } from './refused.ts';
import { AARCH64_SYSCALLS, X86_64_SYSCALLS } from './syscalls.ts';
import type { SyscallName } from './syscalls.ts';

const REQUIRED_DENIALS = `ptrace mount umount2 chroot pivot_root setns unshare kexec_load kexec_file_load reboot
  init_module finit_module delete_module create_module quotactl quotactl_fd syslog swapon swapoff bpf
  perf_event_open keyctl add_key request_key userfaultfd io_uring_setup io_uring_enter io_uring_register
  open_tree move_mount fsopen fsconfig fsmount fspick mount_setattr open_by_handle_at name_to_handle_at
  process_vm_readv process_vm_writev acct lookup_dcookie vhangup nfsservctl settimeofday clock_settime
  clock_adjtime adjtimex iopl ioperm uselib ustat sysfs _sysctl pidfd_getfd kcmp fanotify_init`.split(/\s+/);

/** Calls moby's default profile refuses or gates that the old deny list let through (issue hole 9). */
const NEWLY_REFUSED = `modify_ldt move_pages migrate_pages mbind set_mempolicy memfd_secret ioprio_set sched_setparam
  sched_setscheduler sched_setattr process_madvise statmount listmount fanotify_mark`.split(/\s+/);

/** Calls newer than the installed 6.1 headers whose numbers sit below the headers' highest. */
const NEWER_THAN_HEADERS = new Set(['uretprobe']);

/** `#define __NR_name number` lines of a kernel header, when the header is installed. */
function headerNumbers(path: string): Map<string, number> | undefined {
  if (!existsSync(path)) return undefined;
  const out = new Map<string, number>();
  const text = readFileSync(path, 'utf8');
  const generic = new Map<string, number>();
  for (const m of text.matchAll(/^#define __NR3264_(\w+)\s+(\d+)\s*$/gm)) {
    if (m[1] !== undefined && m[2] !== undefined) generic.set(m[1], Number(m[2]));
  }
  for (const m of text.matchAll(/^#define __NR_(\w+)\s+(\d+)\s*$/gm)) {
    if (m[1] !== undefined && m[2] !== undefined && m[1] !== 'syscalls') out.set(m[1], Number(m[2]));
  }
  // asm-generic names some 64-bit calls through __NR3264_* (fcntl, mmap, newfstatat, …); the first alias is the 64-bit one.
  for (const m of text.matchAll(/^#define __NR_(\w+)\s+__NR3264_(\w+)\s*$/gm)) {
    const nr = m[2] === undefined ? undefined : generic.get(m[2]);
    if (m[1] !== undefined && nr !== undefined && !out.has(m[1])) out.set(m[1], nr);
  }
  return out;
}

/** Compares a table with a header; names newer than the header must sit above its highest number. */
function crossCheck(t: { skip: (reason: string) => void }, path: string, table: Partial<Record<SyscallName, number>>): void {
  const header = headerNumbers(path);
  if (header === undefined) {
    t.skip(`${path} is not installed`);
    return;
  }
  const highest = Math.max(...header.values());
  for (const [name, nr] of Object.entries(table)) {
    const expected = header.get(name);
    if (expected === undefined) assert.ok(nr !== undefined && (nr > highest || NEWER_THAN_HEADERS.has(name)), `${name} (${nr}) missing from ${path}`);
    else assert.equal(nr, expected, `${name} in ${path}`);
  }
}

describe('syscall tables', () => {
  it('x86_64 numbers match asm/unistd_64.h', (t) => {
    crossCheck(t, '/usr/include/x86_64-linux-gnu/asm/unistd_64.h', X86_64_SYSCALLS);
  });

  it('aarch64 numbers match asm-generic/unistd.h', (t) => {
    crossCheck(t, '/usr/include/asm-generic/unistd.h', AARCH64_SYSCALLS);
  });

  it('x86_64 lists every call of asm/unistd_64.h, so "known" means the whole table', (t) => {
    const header = headerNumbers('/usr/include/x86_64-linux-gnu/asm/unistd_64.h');
    if (header === undefined) return void t.skip('asm/unistd_64.h is not installed');
    const missing = [...header.keys()].filter((n) => !Object.hasOwn(X86_64_SYSCALLS, n));
    assert.deepEqual(missing, []);
  });

  it('aarch64 fills the asm-generic layout (0-243, 260-294, 424-469), and every table number is unique', () => {
    const numbers = Object.values(AARCH64_SYSCALLS).sort((a, b) => a - b);
    const expected = [...Array(244).keys(), ...Array.from({ length: 35 }, (_, i) => 260 + i), ...Array.from({ length: 46 }, (_, i) => 424 + i)];
    assert.deepEqual(numbers, expected);
    for (const table of [X86_64_SYSCALLS, AARCH64_SYSCALLS]) {
      const all = Object.values(table);
      assert.equal(new Set(all).size, all.length);
    }
  });
});

describe('DEFAULT_PROFILE', () => {
  const allowed = new Set<string>(DEFAULT_PROFILE.allow.map((a) => a.syscall));

  it('is the allow list, and refuses every call of the hardening floor and every newly refused call', () => {
    assert.equal(DEFAULT_PROFILE.defaultAction, 'refuse');
    assert.equal(DEFAULT_PROFILE.allow, ALLOWED_CALLS);
    const refused = new Set(REFUSED_CALLS.map((r) => r.syscall));
    for (const name of [...REQUIRED_DENIALS, ...NEWLY_REFUSED]) {
      assert.ok(!allowed.has(name), `${name} is allowed`);
      assert.ok(refused.has(name as SyscallName), `${name} has no stated reason in refused.ts`);
    }
  });

  it('never allows a call it lists as refused, and names each call once with a reason', () => {
    for (const list of [ALLOWED_CALLS, REFUSED_CALLS]) {
      const names = list.map((c) => c.syscall);
      assert.equal(new Set(names).size, names.length, 'a call is listed twice');
      for (const call of list) {
        assert.ok(Object.hasOwn(X86_64_SYSCALLS, call.syscall), `${call.syscall} is not a syscall`);
        assert.ok(call.reason.length > 10, `${call.syscall} has no reason`);
      }
    }
    assert.deepEqual(REFUSED_CALLS.filter((r) => allowed.has(r.syscall)).map((r) => r.syscall), []);
  });

  it('narrows allowed calls with conditional rules only, and answers clone3 and openat2 with ENOSYS', () => {
    for (const rule of DEFAULT_PROFILE.rules) {
      assert.ok(rule.reason.length > 10, `${rule.syscall} has no reason`);
      if (rule.when === undefined) {
        assert.equal(rule.errno, 'ENOSYS', rule.syscall);
        assert.ok(!allowed.has(rule.syscall), `${rule.syscall} is allowed and answered`);
      } else {
        assert.ok(allowed.has(rule.syscall), `${rule.syscall} is narrowed but not allowed`);
      }
    }
    assert.deepEqual(DEFAULT_PROFILE.rules.filter((r) => r.when === undefined).map((r) => r.syscall).sort(), ['clone3', 'openat2']);
  });

  it('checks the mode of every call that creates or chmods a file', () => {
    const narrowed = new Set(DEFAULT_PROFILE.rules.filter((r) => r.when?.some((c) => c.op === 'anyBitSet' && c.mask === 0o6000)).map((r) => r.syscall));
    for (const name of ['chmod', 'fchmod', 'fchmodat', 'fchmodat2', 'creat', 'open', 'openat', 'mkdir', 'mkdirat', 'mknod', 'mknodat']) {
      assert.ok(narrowed.has(name as SyscallName), `${name} is not checked for setuid/setgid modes`);
    }
  });

  it('is frozen, so no caller can weaken the shared profile', () => {
    assert.ok(Object.isFrozen(DEFAULT_PROFILE) && Object.isFrozen(DEFAULT_PROFILE.rules) && Object.isFrozen(DEFAULT_PROFILE.allow));
    assert.ok(DEFAULT_PROFILE.rules.every((r) => Object.isFrozen(r) && (r.when ?? []).every((c) => Object.isFrozen(c))));
    assert.ok(DEFAULT_PROFILE.allow.every((a) => Object.isFrozen(a)));
  });

  it('covers every namespace flag of clone', () => {
    assert.equal(CLONE_NAMESPACE_FLAGS, 0x7e020080);
  });
});

describe('hostArch', () => {
  it('maps Node architectures and refuses others naming the seccomp control', () => {
    assert.equal(hostArch('x64'), 'x86_64');
    assert.equal(hostArch('arm64'), 'aarch64');
    assert.throws(() => hostArch('riscv64'), (e: unknown) => e instanceof ControlError && e.control === 'seccomp' && /riscv64/.test(e.message));
    assert.ok(['x86_64', 'aarch64'].includes(hostArch()));
  });
});
