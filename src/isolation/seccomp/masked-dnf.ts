/**
 * Lowers argument checks into OR-of-AND form over one primitive, "(low32(arg) & mask) == value",
 * with at most one primitive per argument in each AND term. That is what OCI seccomp can say
 * portably: each `syscalls[]` entry is one AND term (libseccomp and runsc both allow one
 * comparison per argument index in an entry), and separate entries for a syscall are ORed.
 * Masks never exceed 32 bits, so the high word is compared under a zero mask and ignored.
 */
import type { ArgCheck, ArgIndex } from './profile.ts';

/** (low32(args[arg]) & mask) === value. */
export interface MaskedAtom {
  readonly arg: ArgIndex;
  readonly mask: number;
  readonly value: number;
}

/** An AND of atoms, at most one per argument index, sorted by index. */
export type Term = readonly MaskedAtom[];

/** The alternatives (ORed single atoms) that together mean exactly `check`. */
export function checkAlternatives(check: ArgCheck): MaskedAtom[] {
  const { arg } = check;
  switch (check.op) {
    case 'eq':
      return [{ arg, mask: 0xffffffff, value: check.value >>> 0 }];
    case 'maskedEq':
      return [{ arg, mask: check.mask >>> 0, value: check.value >>> 0 }];
    case 'anyBitSet':
      return bitsOf(check.mask).map((bit) => ({ arg, mask: bit, value: bit }));
    case 'notIn':
      return complementCubes(check.values).map((c) => ({ arg, ...c }));
  }
}

/**
 * The AND of `checks` as an OR of terms: the cross product of each check's alternatives,
 * with atoms on the same argument merged, and contradictory terms dropped.
 */
export function toTerms(checks: readonly ArgCheck[]): Term[] {
  let terms: MaskedAtom[][] = [[]];
  for (const check of checks) {
    const next: MaskedAtom[][] = [];
    for (const term of terms) {
      for (const alt of checkAlternatives(check)) {
        const merged = addAtom(term, alt);
        if (merged !== null) next.push(merged);
      }
    }
    terms = next;
  }
  return terms.map((t) => [...t].sort((a, b) => a.arg - b.arg));
}

/** `term` AND `atom`, or null when no value can satisfy both. */
function addAtom(term: readonly MaskedAtom[], atom: MaskedAtom): MaskedAtom[] | null {
  const same = term.find((t) => t.arg === atom.arg);
  if (same === undefined) return [...term, atom];
  const common = (same.mask & atom.mask) >>> 0;
  // Why: two atoms that demand different bits under a shared mask can never both hold.
  if (((same.value ^ atom.value) & common) >>> 0 !== 0) return null;
  const merged: MaskedAtom = {
    arg: atom.arg,
    mask: (same.mask | atom.mask) >>> 0,
    value: (same.value | atom.value) >>> 0,
  };
  return [...term.filter((t) => t !== same), merged];
}

/** Each set bit of `mask`, as its own single-bit mask. */
function bitsOf(mask: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < 32; b++) {
    const bit = 2 ** b;
    if (Math.floor(mask / bit) % 2 === 1) out.push(bit);
  }
  return out;
}

/**
 * Disjoint prefix cubes ({mask, value} with a high-bits mask) covering exactly the 32-bit values
 * NOT in `values`: walk the binary trie of `values` from bit 31 down and emit every missing branch.
 */
export function complementCubes(values: readonly number[]): { mask: number; value: number }[] {
  const out: { mask: number; value: number }[] = [];
  const walk = (set: readonly number[], bit: number, mask: number, value: number): void => {
    if (set.length === 0) {
      out.push({ mask: mask >>> 0, value: value >>> 0 });
      return;
    }
    if (bit < 0) return;
    const b = 2 ** bit;
    const ones = set.filter((v) => Math.floor(v / b) % 2 === 1);
    const zeros = set.filter((v) => Math.floor(v / b) % 2 === 0);
    walk(zeros, bit - 1, mask + b, value);
    walk(ones, bit - 1, mask + b, value + b);
  };
  walk([...new Set(values.map((v) => v >>> 0))], 31, 0, 0);
  return out;
}
