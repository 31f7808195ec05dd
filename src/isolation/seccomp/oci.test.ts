import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ARCHES, syscallNumber } from './arch.ts';
import { complementCubes, toTerms } from './masked-dnf.ts';
import { toOciSeccomp } from './oci.ts';
import { DEFAULT_PROFILE, SAFE_PERSONALITIES } from './profile.ts';
import type { ArgCheck } from './profile.ts';
import { ociVerdict, profileVerdict } from './reference-eval.ts';
import type { SyscallName } from './syscalls.ts';

const HIGH = 1n << 32n;
const EPERM = { errno: 1 };
const ENOSYS = { errno: 38 };

for (const arch of ARCHES) {
  describe(`toOciSeccomp (${arch})`, () => {
    const spec = toOciSeccomp(DEFAULT_PROFILE, arch);
    const nr = (name: SyscallName): number => syscallNumber(arch, name) ?? -1;

    it('has the OCI shape: allow by default, native architecture only', () => {
      assert.equal(spec.defaultAction, 'SCMP_ACT_ALLOW');
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

    it('uses errnoRet on ERRNO entries and TRACE (ENOSYS without a tracer) for clone3', () => {
      for (const entry of spec.syscalls) {
        if (entry.action === 'SCMP_ACT_ERRNO') assert.equal(entry.errnoRet, 1);
        else assert.deepEqual(entry.names, ['clone3']);
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
      const vsock = spec.syscalls.find((e) => e.names[0] === 'socket' && e.args?.[0]?.valueTwo === 40);
      assert.deepEqual(vsock?.args, [{ index: 0, value: 0xffffffff, valueTwo: 40, op: 'SCMP_CMP_MASKED_EQ' }]);
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
    });

    it('agrees with the profile on every profiled syscall for a spread of arguments', () => {
      const samples = [0n, 1n, 2n, 3n, 8n, 10n, 17n, 40n, 0x5412n, 0x541cn, 0x20000n, 0x20008n, 0x40000n, 0x10000011n, 0xffffffffn, 0xfffffffen, HIGH, HIGH | 40n, HIGH | 3n];
      for (const name of new Set(DEFAULT_PROFILE.rules.map((r) => r.syscall))) {
        if (syscallNumber(arch, name) === undefined) continue;
        for (const a of samples) {
          for (const b of samples) {
            const args = [a, b, 0n];
            assert.deepEqual(ociVerdict(spec, arch, nr(name), args), profileVerdict(DEFAULT_PROFILE, arch, nr(name), args), `${name}(0x${a.toString(16)}, 0x${b.toString(16)})`);
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
