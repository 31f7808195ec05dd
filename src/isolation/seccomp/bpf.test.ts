import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ControlError } from '../../host/control-error.ts';
import { ARCHES, AUDIT_ARCH_ARM, AUDIT_ARCH_I386, auditArch, syscallNumber, syscallTable } from './arch.ts';
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
import { AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_VSOCK, DEFAULT_PROFILE, FILE_SERVER_PROFILE, TIOCLINUX, TIOCSTI } from './profile.ts';
import { REFUSED_CALLS } from './refused.ts';
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

    it('refuses every deliberately refused call with EPERM and allows the allow list', () => {
      let checked = 0;
      for (const call of REFUSED_CALLS) {
        if (syscallNumber(arch, call.syscall) === undefined) continue;
        assert.equal(verdict(arch, call.syscall, [1n, 2n, 3n]), EPERM, call.syscall);
        checked++;
      }
      assert.ok(checked > 70, `only ${checked} refusals on ${arch}`);
      const ruled = new Set(DEFAULT_PROFILE.rules.map((r) => r.syscall));
      for (const call of DEFAULT_PROFILE.allow) {
        if (syscallNumber(arch, call.syscall) === undefined || ruled.has(call.syscall)) continue;
        assert.equal(verdict(arch, call.syscall, [1n, 2n, 3n]), SECCOMP_RET_ALLOW, call.syscall);
      }
    });

    it('answers numbers the table does not know with ENOSYS, so libc falls back as on an older kernel', () => {
      const known = new Set(Object.values(syscallTable(arch)));
      const unknown = [470, 471, 512, 1000, 0x3fffffff].concat(arch === 'x86_64' ? [336, 400, 423] : [244, 259, 295, 423, 0xffffffff]);
      for (const nr of unknown) {
        assert.ok(!known.has(nr));
        assert.equal(runFilter(program, { nr, arch: auditArch(arch) }), ENOSYS, `nr ${nr}`);
      }
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
      for (const family of [0n, 3n, 4n, 5n, 9n, 15n, 30n, 38n, 41n, 45n, 46n, 0xffffn]) {
        assert.equal(verdict(arch, 'socket', [family, SOCK_STREAM, 0n]), EPERM, `family ${family}`);
        assert.equal(verdict(arch, 'socketpair', [family, SOCK_STREAM, 0n, 0n]), EPERM, `socketpair family ${family}`);
      }
      // A high word can't turn a refused family into an allowed one, or the reverse.
      assert.equal(verdict(arch, 'socket', [38n | (AF_UNIX << 32n), SOCK_STREAM, 0n]), EPERM);
      assert.equal(verdict(arch, 'socket', [AF_UNIX | (38n << 32n), SOCK_STREAM, 0n]), SECCOMP_RET_ALLOW);
      assert.equal(verdict(arch, 'socketpair', [AF_UNIX, SOCK_STREAM, 0n, 0n]), SECCOMP_RET_ALLOW);
      assert.equal(verdict(arch, 'socketpair', [BigInt(AF_INET), SOCK_STREAM, 0n, 0n]), EPERM);
    });

    it('allows netlink for routing only', () => {
      const netlink = BigInt(AF_NETLINK);
      assert.equal(verdict(arch, 'socket', [netlink, SOCK_RAW | SOCK_CLOEXEC, 0n]), SECCOMP_RET_ALLOW, 'NETLINK_ROUTE');
      assert.equal(verdict(arch, 'socket', [netlink, SOCK_DGRAM, 0n | (4n << 32n)]), SECCOMP_RET_ALLOW, 'high word of the protocol is ignored');
      // SOCK_DIAG 4, XFRM 6, AUDIT 9, NETFILTER 12, KOBJECT_UEVENT 15, GENERIC 16, and others.
      for (const protocol of [1n, 2n, 4n, 6n, 9n, 12n, 15n, 16n, 21n, 0xffffffffn]) {
        assert.equal(verdict(arch, 'socket', [netlink, SOCK_RAW, protocol]), EPERM, `netlink protocol ${protocol}`);
        assert.equal(verdict(arch, 'socket', [netlink | HIGH, SOCK_DGRAM, protocol | HIGH]), EPERM, `netlink protocol ${protocol} with high bits`);
      }
    });

    it('refuses setuid and setgid modes on every creating and chmod call, whatever the high word says', () => {
      const modes = { suid: 0o4755n, sgid: 0o2755n, both: 0o6755n, suidOnly: 0o4000n };
      const plain = [0o755n, 0o644n, 0o1777n, 0o777n];
      const at = (arg: number, mode: bigint): bigint[] => [3n, 0x1000n, 0n, 0n].map((v, i) => (i === arg ? mode : v));
      for (const [name, arg] of [['chmod', 1], ['fchmod', 1], ['fchmodat', 2], ['fchmodat2', 2], ['creat', 1], ['mkdir', 1], ['mkdirat', 2], ['mknod', 1], ['mknodat', 2]] as const) {
        if (syscallNumber(arch, name) === undefined) continue;
        for (const mode of Object.values(modes)) {
          assert.equal(verdict(arch, name, at(arg, mode)), EPERM, `${name} 0${mode.toString(8)}`);
          assert.equal(verdict(arch, name, at(arg, mode | HIGH)), EPERM, `${name} 0${mode.toString(8)} with high bits`);
        }
        for (const mode of plain) assert.equal(verdict(arch, name, at(arg, mode | (0o6000n << 32n))), SECCOMP_RET_ALLOW, `${name} 0${mode.toString(8)}`);
      }
      const O_CREAT = 0o100n;
      const O_TMPFILE = 0o20200000n;
      const O_RDWR = 2n;
      for (const [name, flagsArg] of [['open', 1], ['openat', 2]] as const) {
        if (syscallNumber(arch, name) === undefined) continue;
        const call = (flags: bigint, mode: bigint): bigint[] => {
          const args = [3n, 0x1000n, 0n, 0n];
          args[flagsArg] = flags;
          args[flagsArg + 1] = mode;
          return args;
        };
        for (const flags of [O_CREAT, O_CREAT | O_RDWR, O_TMPFILE | O_RDWR, O_CREAT | HIGH]) {
          assert.equal(verdict(arch, name, call(flags, 0o4755n)), EPERM, `${name} flags 0${flags.toString(8)}`);
          assert.equal(verdict(arch, name, call(flags, 0o2700n | HIGH)), EPERM);
          assert.equal(verdict(arch, name, call(flags, 0o755n | (0o6000n << 32n))), SECCOMP_RET_ALLOW);
        }
        // Without O_CREAT or O_TMPFILE the kernel ignores the mode, so a stray one changes nothing.
        assert.equal(verdict(arch, name, call(O_RDWR, 0o6755n)), SECCOMP_RET_ALLOW);
      }
      assert.equal(verdict(arch, 'openat2', [3n, 0x1000n, 0x2000n, 24n]), ENOSYS, 'openat2: its mode is out of reach');
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
    });

    it('matches the profile on every syscall number for a spread of arguments', () => {
      const samples = [0n, 1n, 3n, 8n, 16n, 17n, 40n, 0o100n, 0o4755n, 0x5412n, 0x541cn, 0x20008n, 0x10000011n, 0xffffffffn, HIGH, HIGH | 40n];
      const ruled = new Set(DEFAULT_PROFILE.rules.map((r) => syscallNumber(arch, r.syscall)));
      for (let nr = 0; nr <= 480; nr++) {
        // Arguments matter only to calls with rules; the others are checked once.
        const spread = ruled.has(nr) ? samples : [3n];
        for (const a of spread) {
          for (const b of spread) {
            const args = [a, b, b, a];
            const want = profileVerdict(DEFAULT_PROFILE, arch, nr, args);
            const got = runFilter(program, { nr, arch: auditArch(arch), args });
            const expected = want === 'allow' ? SECCOMP_RET_ALLOW : (SECCOMP_RET_ERRNO | want.errno) >>> 0;
            if (got !== expected) assert.equal(got, expected, `nr ${nr}(0x${a.toString(16)}, 0x${b.toString(16)})`);
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
      defaultAction: 'refuse',
      allow: [{ syscall: 'ioctl', reason: 'x' }],
      rules: [{ syscall: 'ioctl', errno: 'EPERM', when: [{ arg: 1, op: 'maskedEq', mask: 0xff, value: 0x100 }], reason: 'x' }],
    };
    assert.throws(() => compileBpf(bad, 'x86_64'), (e: unknown) => e instanceof ControlError && e.control === 'seccomp');
    const empty: SeccompProfile = {
      defaultAction: 'refuse',
      allow: [{ syscall: 'personality', reason: 'x' }],
      rules: [{ syscall: 'personality', errno: 'EPERM', when: [{ arg: 0, op: 'notIn', values: [] }], reason: 'x' }],
    };
    assert.throws(() => compileBpf(empty, 'aarch64'), ControlError);
  });

  it('refuses a program that does not fit the kernel limit', () => {
    const values = Array.from({ length: 4100 }, (_, i) => i);
    const huge: SeccompProfile = {
      defaultAction: 'refuse',
      allow: [{ syscall: 'personality', reason: 'x' }],
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

  it('skips rules and allowances for calls the architecture lacks', () => {
    const profile: SeccompProfile = {
      defaultAction: 'refuse',
      allow: [{ syscall: 'fork', reason: 'x' }],
      rules: [{ syscall: 'iopl', errno: 'ENOSYS', reason: 'x' }],
    };
    const x86 = compileProgram(profile, 'x86_64');
    assert.equal(runFilter(x86, { nr: 172, arch: auditArch('x86_64') }), ENOSYS);
    assert.equal(runFilter(x86, { nr: 57, arch: auditArch('x86_64') }), SECCOMP_RET_ALLOW);
    assert.equal(runFilter(x86, { nr: 39, arch: auditArch('x86_64') }), EPERM);
    const arm = compileProgram(profile, 'aarch64');
    assert.ok(arm.every((i) => i.k !== 172 || i.code !== BPF_JEQ_K), 'no rule block for iopl on aarch64');
    assert.equal(runFilter(arm, { nr: 172, arch: auditArch('aarch64') }), EPERM, 'getpid (172 on aarch64) is known and not allowed');
  });

  it('refuses profiles that contradict the allow list', () => {
    const contradict = (rules: SeccompProfile['rules']): SeccompProfile => ({ defaultAction: 'refuse', allow: [{ syscall: 'read', reason: 'x' }], rules });
    assert.throws(() => compileBpf(contradict([{ syscall: 'read', errno: 'ENOSYS', reason: 'x' }]), 'x86_64'), /refuses an allowed call outright/);
    assert.throws(() => compileBpf(contradict([{ syscall: 'write', errno: 'EPERM', reason: 'x' }]), 'x86_64'), /EPERM is the default/);
    assert.throws(() => compileBpf(contradict([{ syscall: 'write', errno: 'EPERM', when: [{ arg: 0, op: 'eq', value: 1 }], reason: 'x' }]), 'x86_64'), /not allowed/);
    assert.throws(() => compileBpf({ defaultAction: 'refuse', allow: [{ syscall: 'read', reason: 'x' }, { syscall: 'read', reason: 'y' }], rules: [] }, 'x86_64'), /twice/);
  });

  it('reaches every run of a long lookup with 32-bit jumps', () => {
    // Every other syscall allowed: the most runs a table can have.
    const names = Object.entries(syscallTable('x86_64')).filter(([, nr]) => nr % 2 === 0).map(([syscall]) => ({ syscall: syscall as SyscallName, reason: 'x' }));
    const program = compileProgram({ defaultAction: 'refuse', allow: names, rules: [] }, 'x86_64');
    assert.deepEqual(jumpProblems(program), []);
    for (let nr = 0; nr < 470; nr++) {
      const known = Object.values(syscallTable('x86_64')).includes(nr);
      const want = !known ? ENOSYS : nr % 2 === 0 ? SECCOMP_RET_ALLOW : EPERM;
      assert.equal(runFilter(program, { nr, arch: auditArch('x86_64') }), want, `nr ${nr}`);
    }
  });
});

describe('the file server filter (microvm grants)', () => {
  const run = (name: SyscallName, args: bigint[]) => runFilter(compileProgram(FILE_SERVER_PROFILE, 'x86_64'), { nr: syscallNumber('x86_64', name) ?? -1, arch: auditArch('x86_64'), args });
  it('refuses set-id modes and lets everything else through (T26 against a guest kernel taken over)', () => {
    assert.equal(run('fchmodat', [3n, 0n, 0o4755n]), EPERM);
    assert.equal(run('fchmod', [3n, 0o2755n]), EPERM);
    assert.equal(run('mkdirat', [3n, 0n, 0o2775n]), EPERM);
    assert.equal(run('openat', [3n, 0n, 0o100n, 0o6755n]), EPERM, 'O_CREAT with setuid and setgid');
    assert.equal(run('openat2', [3n, 0n, 0n, 24n]), ENOSYS, 'its mode is out of the filter\'s reach');
    assert.equal(run('fchmodat', [3n, 0n, 0o755n]), SECCOMP_RET_ALLOW);
    assert.equal(run('openat', [3n, 0n, 0o100n, 0o644n]), SECCOMP_RET_ALLOW);
    for (const name of ['unshare', 'chroot', 'setresuid', 'mount', 'pivot_root', 'fchownat', 'read'] as const) assert.equal(run(name, [0n, 0n, 0n]), SECCOMP_RET_ALLOW, name);
  });
});
