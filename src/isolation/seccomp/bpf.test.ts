import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ControlError } from '../driver.ts';
import { ARCHES, AUDIT_ARCH_ARM, AUDIT_ARCH_I386, auditArch, syscallNumber } from './arch.ts';
import type { Arch } from './arch.ts';
import {
  assemble,
  BPF_JEQ_K,
  BPF_MAXINSNS,
  BPF_RET_K,
  decode,
  jump,
  label,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  stmt,
} from './bpf-asm.ts';
import { jumpProblems, runFilter } from './bpf-interpreter.ts';
import { compileBpf, compileProgram } from './bpf.ts';
import { AF_INET, AF_INET6, AF_PACKET, AF_VSOCK, DEFAULT_PROFILE, TIOCLINUX, TIOCSTI } from './profile.ts';
import type { SeccompProfile } from './profile.ts';
import { profileVerdict } from './reference-eval.ts';
import type { SyscallName } from './syscalls.ts';

const EPERM = (SECCOMP_RET_ERRNO | 1) >>> 0;
const ENOSYS = (SECCOMP_RET_ERRNO | 38) >>> 0;
const HIGH = 1n << 32n;
const AF_UNIX = 1n;
const SOCK_STREAM = 1n;
const SOCK_DGRAM = 2n;
const SOCK_RAW = 3n;
const SOCK_CLOEXEC = 0x80000n;
const TCGETS = 0x5401n;
const CLONE_NEWUSER = 0x10000000n;
const FORK_FLAGS = 0x01200011n; // SIGCHLD | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID
const THREAD_FLAGS = 0x003d0f00n; // what glibc's pthread_create passes
const NAMESPACE_FLAGS = [0x20000n, 0x2000000n, 0x4000000n, 0x8000000n, 0x10000000n, 0x20000000n, 0x40000000n, 0x80n];

/** Runs the default profile's filter for `arch` on one native syscall. */
function verdict(arch: Arch, name: SyscallName, args: bigint[] = []): number {
  const nr = syscallNumber(arch, name);
  assert.notEqual(nr, undefined, `${name} has no number on ${arch}`);
  return runFilter(compileProgram(DEFAULT_PROFILE, arch), { nr: nr ?? -1, arch: auditArch(arch), args });
}

for (const arch of ARCHES) {
  describe(`compileBpf (${arch})`, () => {
    const program = compileProgram(DEFAULT_PROFILE, arch);

    it('is a whole number of 8-byte sock_filter entries that decode to the program', () => {
      const bytes = compileBpf(DEFAULT_PROFILE, arch);
      assert.equal(bytes.length % 8, 0);
      assert.deepEqual(decode(bytes), program);
    });

    it('keeps every jump inside the program, ends with a return and stays under the length limit', () => {
      assert.deepEqual(jumpProblems(program), []);
      assert.ok(program.length < BPF_MAXINSNS);
    });

    it('kills foreign ABIs', () => {
      const getpid = syscallNumber(arch, 'getpid') ?? -1;
      for (const foreign of [AUDIT_ARCH_I386, AUDIT_ARCH_ARM, 0xc000003e, 0xc00000b7, 0]) {
        if (foreign === auditArch(arch)) continue;
        assert.equal(runFilter(program, { nr: getpid, arch: foreign }), SECCOMP_RET_KILL_PROCESS);
      }
    });

    it('denies every unconditional rule with its errno', () => {
      let checked = 0;
      for (const rule of DEFAULT_PROFILE.rules) {
        if (rule.when !== undefined || syscallNumber(arch, rule.syscall) === undefined) continue;
        const expected = rule.errno === 'ENOSYS' ? ENOSYS : EPERM;
        assert.equal(verdict(arch, rule.syscall, [1n, 2n, 3n]), expected, rule.syscall);
        checked++;
      }
      assert.ok(checked > 50, `only ${checked} unconditional rules on ${arch}`);
    });

    it('answers clone3 with ENOSYS so libc falls back to clone', () => {
      assert.equal(verdict(arch, 'clone3', [0n, 88n]), ENOSYS);
    });

    it('denies clone with any namespace flag, also with high bits set, and allows fork and thread flags', () => {
      for (const flag of NAMESPACE_FLAGS) {
        assert.equal(verdict(arch, 'clone', [flag | 0x11n]), EPERM, `flag 0x${flag.toString(16)}`);
        assert.equal(verdict(arch, 'clone', [flag | HIGH | 0x11n]), EPERM);
      }
      assert.equal(verdict(arch, 'clone', [CLONE_NEWUSER]), EPERM);
      assert.equal(verdict(arch, 'clone', [FORK_FLAGS]), SECCOMP_RET_ALLOW);
      assert.equal(verdict(arch, 'clone', [THREAD_FLAGS]), SECCOMP_RET_ALLOW);
      // The kernel ignores bits 32..63 of clone's flags, so they must not change the verdict.
      assert.equal(verdict(arch, 'clone', [FORK_FLAGS | (CLONE_NEWUSER << 32n)]), SECCOMP_RET_ALLOW);
    });

    it('denies TIOCSTI and TIOCLINUX, with or without high bits, and allows TCGETS', () => {
      for (const fd of [0n, 1n, 0xffffffffn]) {
        assert.equal(verdict(arch, 'ioctl', [fd, BigInt(TIOCSTI)]), EPERM);
        assert.equal(verdict(arch, 'ioctl', [fd, BigInt(TIOCSTI) | HIGH]), EPERM);
        assert.equal(verdict(arch, 'ioctl', [fd, BigInt(TIOCSTI) | (0xdeadbeefn << 32n)]), EPERM);
        assert.equal(verdict(arch, 'ioctl', [fd, BigInt(TIOCLINUX)]), EPERM);
        assert.equal(verdict(arch, 'ioctl', [fd, TCGETS]), SECCOMP_RET_ALLOW);
      }
    });

    it('denies vsock, packet and raw IP sockets and allows ordinary ones', () => {
      const vsock = BigInt(AF_VSOCK);
      assert.equal(verdict(arch, 'socket', [vsock, SOCK_STREAM, 0n]), EPERM);
      assert.equal(verdict(arch, 'socket', [vsock | HIGH, SOCK_STREAM, 0n]), EPERM);
      assert.equal(verdict(arch, 'socket', [BigInt(AF_PACKET), SOCK_RAW, 0n]), EPERM);
      assert.equal(verdict(arch, 'socket', [BigInt(AF_PACKET) | HIGH, SOCK_DGRAM, 0n]), EPERM);
      for (const family of [BigInt(AF_INET), BigInt(AF_INET6)]) {
        assert.equal(verdict(arch, 'socket', [family, SOCK_RAW, 1n]), EPERM);
        assert.equal(verdict(arch, 'socket', [family | HIGH, SOCK_RAW | SOCK_CLOEXEC, 1n]), EPERM);
        assert.equal(verdict(arch, 'socket', [family, SOCK_RAW | HIGH, 1n]), EPERM);
        assert.equal(verdict(arch, 'socket', [family, SOCK_STREAM, 0n]), SECCOMP_RET_ALLOW);
        assert.equal(verdict(arch, 'socket', [family, SOCK_DGRAM | SOCK_CLOEXEC, 0n]), SECCOMP_RET_ALLOW);
      }
      assert.equal(verdict(arch, 'socket', [AF_UNIX, SOCK_STREAM, 0n]), SECCOMP_RET_ALLOW);
      assert.equal(verdict(arch, 'socket', [AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0n]), SECCOMP_RET_ALLOW);
    });

    it('allows only the safe personalities', () => {
      for (const p of [0n, 0x8n, 0x20000n, 0x20008n, 0xffffffffn, 0xffffffffn | (0xffffffffn << 32n), HIGH]) {
        assert.equal(verdict(arch, 'personality', [p]), SECCOMP_RET_ALLOW, `0x${p.toString(16)}`);
      }
      for (const p of [0x0040000n, 0x0400000n, 0x0040000n | HIGH, 0x0400008n, 0x1n, 0xfffffffen, 0x80000000n]) {
        assert.equal(verdict(arch, 'personality', [p]), EPERM, `0x${p.toString(16)}`);
      }
    });

    it('allows everyday syscalls', () => {
      for (const name of ['read', 'write', 'openat', 'close', 'getpid'] as const) {
        assert.equal(verdict(arch, name, [3n, 0n, 0n]), SECCOMP_RET_ALLOW, name);
      }
      assert.equal(runFilter(program, { nr: 999, arch: auditArch(arch) }), SECCOMP_RET_ALLOW);
    });

    it('matches the profile on every profiled syscall for a spread of arguments', () => {
      const samples = [0n, 1n, 3n, 8n, 17n, 40n, 0x5412n, 0x541cn, 0x20008n, 0x10000011n, 0xffffffffn, HIGH, HIGH | 40n];
      const names = new Set(DEFAULT_PROFILE.rules.map((r) => r.syscall));
      for (const name of names) {
        const nr = syscallNumber(arch, name);
        if (nr === undefined) continue;
        for (const a of samples) {
          for (const b of samples) {
            const args = [a, b, 0n];
            const want = profileVerdict(DEFAULT_PROFILE, arch, nr, args);
            const got = runFilter(program, { nr, arch: auditArch(arch), args });
            const expected = want === 'allow' ? SECCOMP_RET_ALLOW : (SECCOMP_RET_ERRNO | want.errno) >>> 0;
            assert.equal(got, expected, `${name}(0x${a.toString(16)}, 0x${b.toString(16)})`);
          }
        }
      }
    });
  });
}

describe('compileBpf (x86_64 only)', () => {
  it('kills x32 syscalls, including x32 numbers of denied and allowed calls', () => {
    const program = compileProgram(DEFAULT_PROFILE, 'x86_64');
    for (const nr of [0x40000000, 0x40000000 + 39, 0x40000000 + 101, 0x40000000 + 512, 0x7fffffff, -1]) {
      assert.equal(runFilter(program, { nr, arch: auditArch('x86_64') }), SECCOMP_RET_KILL_PROCESS, `nr 0x${(nr >>> 0).toString(16)}`);
    }
  });
});

describe('compileBpf edge cases', () => {
  it('refuses an invalid profile with a seccomp ControlError', () => {
    const bad: SeccompProfile = {
      defaultAction: 'allow',
      rules: [{ syscall: 'ioctl', errno: 'EPERM', when: [{ arg: 1, op: 'maskedEq', mask: 0xff, value: 0x100 }], reason: 'x' }],
    };
    assert.throws(() => compileBpf(bad, 'x86_64'), (e: unknown) => e instanceof ControlError && e.control === 'seccomp');
    const empty: SeccompProfile = {
      defaultAction: 'allow',
      rules: [{ syscall: 'personality', errno: 'EPERM', when: [{ arg: 0, op: 'notIn', values: [] }], reason: 'x' }],
    };
    assert.throws(() => compileBpf(empty, 'aarch64'), ControlError);
  });

  it('refuses a program that does not fit the kernel limit', () => {
    const values = Array.from({ length: 4100 }, (_, i) => i);
    const huge: SeccompProfile = {
      defaultAction: 'allow',
      rules: [{ syscall: 'personality', errno: 'EPERM', when: [{ arg: 0, op: 'notIn', values }], reason: 'x' }],
    };
    assert.throws(() => compileBpf(huge, 'x86_64'), ControlError);
  });

  it('assembler refuses jumps that do not fit a u8 and unknown labels', () => {
    const far = [jump(BPF_JEQ_K, 1, 0, 'end'), ...Array.from({ length: 256 }, () => stmt(BPF_RET_K, 0)), label('end'), stmt(BPF_RET_K, 0)];
    assert.throws(() => assemble(far), /does not fit in a u8/);
    const near = [jump(BPF_JEQ_K, 1, 0, 'end'), ...Array.from({ length: 255 }, () => stmt(BPF_RET_K, 0)), label('end'), stmt(BPF_RET_K, 0)];
    assert.equal(assemble(near)[0]?.jf, 255);
    assert.throws(() => assemble([jump(BPF_JEQ_K, 1, 0, 'nowhere')]), /not defined/);
    assert.throws(() => assemble([label('back'), stmt(BPF_RET_K, 0), jump(BPF_JEQ_K, 1, 0, 'back')]), /does not fit/);
  });

  it('skips rules for calls the architecture lacks', () => {
    const profile: SeccompProfile = { defaultAction: 'allow', rules: [{ syscall: 'iopl', errno: 'EPERM', reason: 'x' }] };
    assert.equal(compileProgram(profile, 'aarch64').length, 5);
    assert.equal(runFilter(compileProgram(profile, 'x86_64'), { nr: 172, arch: auditArch('x86_64') }), EPERM);
  });
});
