import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ARCHES, syscallNumber } from './arch.ts';
import { complementCubes, toTerms } from './masked-dnf.ts';
import { toOciSeccomp } from './oci.ts';
import { DEFAULT_PROFILE, SAFE_PERSONALITIES } from './profile.ts';
import type { ArgCheck } from './profile.ts';
import { libseccompVerdict, ociVerdict, profileVerdict } from './reference-eval.ts';
import type { SyscallName } from './syscalls.ts';

const HIGH = 1n << 32n;
const EPERM = { errno: 1 };
const ENOSYS = { errno: 38 };

for (const arch of ARCHES) {
  describe(`toOciSeccomp (${arch})`, () => {
    const spec = toOciSeccomp(DEFAULT_PROFILE, arch);
    const nr = (name: SyscallName): number => syscallNumber(arch, name) ?? -1;

    it('has the OCI shape: ENOSYS (TRACE) for unknown calls, native architecture only', () => {
      assert.equal(spec.defaultAction, 'SCMP_ACT_TRACE');
      assert.deepEqual(spec.architectures, [arch === 'x86_64' ? 'SCMP_ARCH_X86_64' : 'SCMP_ARCH_AARCH64']);
      assert.ok(spec.syscalls.length > 0);
      const roundTrip = JSON.parse(JSON.stringify(spec)) as unknown;
      assert.deepEqual(roundTrip, spec);
    });

    it('names only syscalls that exist on the architecture', () => {
      for (const entry of spec.syscalls) {
        assert.ok(entry.names.length > 0);
        for (const name of entry.names) {
          assert.notEqual(syscallNumber(arch, name as SyscallName), undefined, `${name} on ${arch}`);
        }
      }
      const names = spec.syscalls.flatMap((e) => e.names);
      assert.equal(names.includes('iopl'), arch === 'x86_64');
      assert.ok(names.includes('mount') && names.includes('bpf') && names.includes('io_uring_setup'));
    });

    it('lists refusals before the allow list, which comes last and holds every allowed call of the architecture', () => {
      const last = spec.syscalls[spec.syscalls.length - 1];
      assert.equal(last?.action, 'SCMP_ACT_ALLOW');
      assert.equal(spec.syscalls.filter((e) => e.action === 'SCMP_ACT_ALLOW').length, 1);
      const expected = DEFAULT_PROFILE.allow.map((a) => a.syscall).filter((n) => syscallNumber(arch, n) !== undefined);
      assert.deepEqual([...(last?.names ?? [])].sort(), [...expected].sort());
      const refused = spec.syscalls.find((e) => e.action === 'SCMP_ACT_ERRNO' && e.args === undefined);
      assert.ok(refused?.names.includes('modify_ldt') === (arch === 'x86_64'));
      assert.ok(refused?.names.includes('mbind') && refused.names.includes('sched_setparam') && refused.names.includes('ptrace'));
    });

    it('uses errnoRet on ERRNO entries and TRACE (ENOSYS without a tracer) for clone3 and openat2', () => {
      for (const entry of spec.syscalls) {
        if (entry.action === 'SCMP_ACT_ERRNO') assert.equal(entry.errnoRet, 1);
        else if (entry.action === 'SCMP_ACT_TRACE') assert.deepEqual(entry.names, ['clone3', 'openat2']);
      }
    });

    it('compares arguments only with SCMP_CMP_MASKED_EQ under 32-bit masks, one per index', () => {
      let conditional = 0;
      for (const entry of spec.syscalls) {
        const args = entry.args ?? [];
        if (args.length > 0) conditional++;
        assert.equal(new Set(args.map((a) => a.index)).size, args.length, 'one comparison per argument index');
        for (const a of args) {
          assert.equal(a.op, 'SCMP_CMP_MASKED_EQ');
          assert.ok(Number.isInteger(a.value) && a.value > 0 && a.value <= 0xffffffff);
          assert.equal((a.valueTwo & ~a.value) >>> 0, 0, 'valueTwo has no bits outside the mask');
        }
      }
      assert.ok(conditional > 0);
      const raw = spec.syscalls.find((e) => e.names[0] === 'socket' && e.args?.[0]?.valueTwo === 2);
      assert.deepEqual(raw?.args, [
        { index: 0, value: 0xffffffff, valueTwo: 2, op: 'SCMP_CMP_MASKED_EQ' },
        { index: 1, value: 0xf, valueTwo: 3, op: 'SCMP_CMP_MASKED_EQ' },
      ]);
    });

    it('denies what the BPF filter denies, including high-bit smuggling', () => {
      const v = (name: SyscallName, args: bigint[]) => ociVerdict(spec, arch, nr(name), args);
      assert.deepEqual(v('mount', []), EPERM);
      assert.deepEqual(v('clone3', []), ENOSYS);
      assert.deepEqual(v('clone', [0x10000011n]), EPERM);
      assert.equal(v('clone', [0x01200011n]), 'allow');
      assert.deepEqual(v('ioctl', [0n, 0x5412n | HIGH]), EPERM);
      assert.equal(v('ioctl', [0n, 0x5401n]), 'allow');
      assert.deepEqual(v('socket', [40n | HIGH, 1n, 0n]), EPERM);
      assert.deepEqual(v('socket', [2n, 3n | 0x80000n, 0n]), EPERM);
      assert.equal(v('socket', [2n, 1n, 0n]), 'allow');
      assert.equal(v('socket', [1n, 1n, 0n]), 'allow');
      assert.deepEqual(v('personality', [0x400000n]), EPERM);
      assert.equal(v('personality', [0xffffffffn]), 'allow');
      assert.equal(v('read', [0n]), 'allow');
      assert.deepEqual(v('socket', [16n, 3n, 6n]), EPERM, 'NETLINK_XFRM');
      assert.equal(v('socket', [16n, 3n, 0n]), 'allow', 'NETLINK_ROUTE');
      assert.deepEqual(v('fchmodat', [3n, 0n, 0o4755n | HIGH]), EPERM);
      assert.equal(v('fchmodat', [3n, 0n, 0o755n]), 'allow');
      assert.deepEqual(v('openat', [3n, 0n, 0o101n, 0o2755n]), EPERM);
      assert.equal(v('openat', [3n, 0n, 2n, 0o2755n]), 'allow');
      assert.deepEqual(v('openat2', []), ENOSYS);
      assert.deepEqual(v('mbind', []), EPERM);
      assert.deepEqual(ociVerdict(spec, arch, 470, []), ENOSYS, 'a number newer than the table');
    });

    it('agrees with the profile on every syscall number, read as runsc and as libseccomp read it', () => {
      const samples = [0n, 1n, 2n, 3n, 8n, 10n, 16n, 17n, 40n, 0o100n, 0o4755n, 0x5412n, 0x541cn, 0x20008n, 0x40000n, 0x10000011n, 0xffffffffn, HIGH, HIGH | 40n, HIGH | 3n];
      const ruled = new Set(DEFAULT_PROFILE.rules.map((r) => syscallNumber(arch, r.syscall)));
      for (let n = 0; n <= 480; n++) {
        // Arguments matter only to calls with rules; the others are checked once.
        const spread = ruled.has(n) ? samples : [3n];
        for (const a of spread) {
          for (const b of spread) {
            const args = [a, b, b, a];
            const want = profileVerdict(DEFAULT_PROFILE, arch, n, args);
            const runsc = ociVerdict(spec, arch, n, args);
            const libseccomp = libseccompVerdict(spec, arch, n, args);
            if (JSON.stringify(runsc) !== JSON.stringify(want) || JSON.stringify(libseccomp) !== JSON.stringify(want)) {
              assert.deepEqual({ runsc, libseccomp }, { runsc: want, libseccomp: want }, `nr ${n}(0x${a.toString(16)}, 0x${b.toString(16)})`);
            }
          }
        }
      }
    });
  });
}

describe('masked OR-of-AND lowering', () => {
  it('covers exactly the complement of a set of 32-bit values', () => {
    const cubes = complementCubes(SAFE_PERSONALITIES);
    const inCover = (v: number) => cubes.some((c) => (v & c.mask) >>> 0 === c.value);
    for (const v of SAFE_PERSONALITIES) assert.equal(inCover(v), false);
    for (let i = 0; i < 32; i++) {
      for (const v of [2 ** i, (0xffffffff - 2 ** i) >>> 0, (2 ** i) | 8, (2 ** i) | 0x20000]) {
        assert.equal(inCover(v >>> 0), !SAFE_PERSONALITIES.includes(v >>> 0), `0x${(v >>> 0).toString(16)}`);
      }
    }
    // Prefix cubes from a trie are pairwise disjoint: each value is covered at most once.
    for (const v of [1, 0x40000, 0x400000, 0xfffffffe, 0x7fffffff]) {
      assert.equal(cubes.filter((c) => (v & c.mask) >>> 0 === c.value).length, 1);
    }
  });

  it('merges atoms on the same argument and drops contradictions', () => {
    const both: ArgCheck[] = [
      { arg: 0, op: 'maskedEq', mask: 0xf0, value: 0x10 },
      { arg: 0, op: 'maskedEq', mask: 0x0f, value: 0x02 },
    ];
    assert.deepEqual(toTerms(both), [[{ arg: 0, mask: 0xff, value: 0x12 }]]);
    const contradiction: ArgCheck[] = [
      { arg: 0, op: 'eq', value: 1 },
      { arg: 0, op: 'eq', value: 2 },
    ];
    assert.deepEqual(toTerms(contradiction), []);
    assert.equal(toTerms([{ arg: 0, op: 'anyBitSet', mask: 0x80000081 }]).length, 3);
  });
});
