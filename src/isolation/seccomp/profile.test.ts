import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ControlError } from '../driver.ts';
import { hostArch } from './arch.ts';
import { CLONE_NAMESPACE_FLAGS, DEFAULT_PROFILE } from './profile.ts';
import { AARCH64_SYSCALLS, X86_64_SYSCALLS } from './syscalls.ts';
import type { SyscallName } from './syscalls.ts';

const REQUIRED_DENIALS = `ptrace mount umount2 chroot pivot_root setns unshare kexec_load kexec_file_load reboot
  init_module finit_module delete_module create_module quotactl quotactl_fd syslog swapon swapoff bpf
  perf_event_open keyctl add_key request_key userfaultfd io_uring_setup io_uring_enter io_uring_register
  open_tree move_mount fsopen fsconfig fsmount fspick mount_setattr open_by_handle_at name_to_handle_at
  process_vm_readv process_vm_writev acct lookup_dcookie vhangup nfsservctl settimeofday clock_settime
  clock_adjtime adjtimex iopl ioperm uselib ustat sysfs _sysctl pidfd_getfd kcmp fanotify_init`.split(/\s+/);

/** `#define __NR_name number` lines of a kernel header, when the header is installed. */
function headerNumbers(path: string): Map<string, number> | undefined {
  if (!existsSync(path)) return undefined;
  const out = new Map<string, number>();
  for (const m of readFileSync(path, 'utf8').matchAll(/^#define __NR_(\w+)\s+(\d+)\s*$/gm)) {
    if (m[1] !== undefined && m[2] !== undefined) out.set(m[1], Number(m[2]));
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
    if (expected === undefined) assert.ok(nr !== undefined && nr > highest, `${name} (${nr}) missing from ${path}`);
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

  it('aarch64 lacks only legacy calls, and every table number is unique', () => {
    const missing = Object.keys(X86_64_SYSCALLS).filter((n) => !Object.hasOwn(AARCH64_SYSCALLS, n));
    assert.deepEqual(missing.sort(), [
      '_sysctl', 'create_module', 'get_kernel_syms', 'ioperm', 'iopl', 'query_module', 'sysfs', 'uselib', 'ustat',
    ]);
    for (const table of [X86_64_SYSCALLS, AARCH64_SYSCALLS]) {
      const numbers = Object.values(table);
      assert.equal(new Set(numbers).size, numbers.length);
    }
  });
});

describe('DEFAULT_PROFILE', () => {
  it('denies every required syscall with EPERM, unconditionally', () => {
    for (const name of REQUIRED_DENIALS) {
      const rule = DEFAULT_PROFILE.rules.find((r) => r.syscall === name);
      assert.ok(rule, `${name} is not denied`);
      assert.equal(rule.errno, 'EPERM', name);
      assert.equal(rule.when, undefined, name);
    }
  });

  it('gives every rule a reason and lists each unconditional denial once', () => {
    const seen = new Set<string>();
    for (const rule of DEFAULT_PROFILE.rules) {
      assert.ok(rule.reason.length > 10, `${rule.syscall} has no reason`);
      if (rule.when === undefined) {
        assert.ok(!seen.has(rule.syscall), `${rule.syscall} listed twice`);
        seen.add(rule.syscall);
      }
    }
  });

  it('is frozen, so no caller can weaken the shared profile', () => {
    assert.ok(Object.isFrozen(DEFAULT_PROFILE) && Object.isFrozen(DEFAULT_PROFILE.rules));
    assert.ok(DEFAULT_PROFILE.rules.every((r) => Object.isFrozen(r) && (r.when ?? []).every((c) => Object.isFrozen(c))));
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
