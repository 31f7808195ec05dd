/**
 * RFC 6962 (and RFC 9162 §2.1) Merkle tree hashing with SHA-256: leaf and interior node hashes with
 * their 0x00/0x01 domain prefixes, the ranges inclusion and consistency proofs are made of, and the
 * RFC 9162 verification algorithms. Pure functions over Buffers; where the hashes of a log live (a
 * store's table, an array in memory) is the caller's business, reached through `NodeReader`.
 */
import { createHash } from 'node:crypto';

/** Bytes of a SHA-256 hash. */
export const HASH_BYTES = 32;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** MTH({}) : the hash of the empty tree, SHA-256 of nothing. */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

/** MTH({d}) = SHA-256(0x00 || d). Why the prefix: a leaf can never pass for an interior node (second preimages). */
export function leafHash(data: Uint8Array | string): Buffer {
  return createHash('sha256').update(LEAF_PREFIX).update(data).digest();
}

/** SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

/** The largest power of two strictly smaller than `n` (n ≥ 2): where RFC 6962 splits a tree of n leaves. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  // Exact for every safe integer: a power of two is the only value equal to 2 ** round(log2(n)).
  return n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

/** A half-open range [start, end) of leaf indexes whose MTH a proof carries. */
export type LeafRange = readonly [start: number, end: number];

/**
 * A complete, aligned subtree: 2^level leaves starting at index × 2^level. Level 0 is a leaf hash.
 * Such subtrees never change once their last leaf is appended, so a store can keep them.
 */
export interface PerfectNode {
  readonly level: number;
  readonly index: number;
}

/** The perfect subtrees that make up [start, end) in RFC 6962's split order, left to right. */
export function perfectNodesOf(range: LeafRange): PerfectNode[] {
  const [start, end] = range;
  const size = end - start;
  if (size <= 0) throw new RangeError(`empty range [${start}, ${end})`);
  if (isPowerOfTwo(size) && start % size === 0) return [{ level: Math.log2(size), index: start / size }];
  const k = splitPoint(size);
  return [...perfectNodesOf([start, start + k]), ...perfectNodesOf([start + k, end])];
}

/** The interior nodes a newly appended leaf completes: (level ≥ 1) subtrees whose last leaf is `leafIndex`. */
export function nodesCompletedBy(leafIndex: number): PerfectNode[] {
  const nodes: PerfectNode[] = [];
  let index = leafIndex;
  let level = 0;
  // A node of level l completes when its right child (odd index at level l-1) completes.
  while (index % 2 === 1) {
    index = (index - 1) / 2;
    level += 1;
    nodes.push({ level, index });
  }
  return nodes;
}

/** The MTH of `range` from the hashes of its perfect subtrees (as `perfectNodesOf` lists them). */
export function rangeHash(range: LeafRange, node: (n: PerfectNode) => Buffer): Buffer {
  const [start, end] = range;
  const size = end - start;
  if (isPowerOfTwo(size) && start % size === 0) return node({ level: Math.log2(size), index: start / size });
  const k = splitPoint(size);
  return nodeHash(rangeHash([start, start + k], node), rangeHash([start + k, end], node));
}

/** The ranges whose hashes make the inclusion proof of leaf `index` in a tree of `size` (RFC 6962 §2.1.1 PATH), leaf side first. */
export function inclusionRanges(index: number, size: number): LeafRange[] {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) throw new RangeError(`leaf ${index} is not in a tree of size ${size}`);
  const out: LeafRange[] = [];
  const walk = (m: number, start: number, end: number): void => {
    const n = end - start;
    if (n === 1) return;
    const k = splitPoint(n);
    if (m < k) {
      walk(m, start, start + k);
      out.push([start + k, end]);
    } else {
      walk(m - k, start + k, end);
      out.push([start, start + k]);
    }
  };
  walk(index, 0, size);
  return out;
}

/** The ranges of the consistency proof between trees of `first` and `second` leaves (RFC 6962 §2.1.2 PROOF). */
export function consistencyRanges(first: number, second: number): LeafRange[] {
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first < 0 || first > second) throw new RangeError(`no consistency proof from size ${first} to size ${second}`);
  if (first === 0 || first === second) return [];
  const out: LeafRange[] = [];
  const sub = (m: number, start: number, end: number, complete: boolean): void => {
    const n = end - start;
    if (m === n) {
      if (!complete) out.push([start, end]);
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      sub(m, start, start + k, complete);
      out.push([start + k, end]);
    } else {
      sub(m - k, start + k, end, false);
      out.push([start, start + k]);
    }
  };
  sub(first, 0, second, true);
  return out;
}

/** MTH of a whole list of leaf hashes (in memory: tests, offline checks of small logs). */
export function treeHash(leafHashes: readonly Buffer[]): Buffer {
  if (leafHashes.length === 0) return EMPTY_ROOT;
  return rangeHash([0, leafHashes.length], memoryNodes(leafHashes));
}

/** A node reader over leaf hashes in memory (computes each perfect subtree). */
export function memoryNodes(leafHashes: readonly Buffer[]): (n: PerfectNode) => Buffer {
  const at = (level: number, index: number): Buffer => {
    if (level === 0) {
      const leaf = leafHashes[index];
      if (leaf === undefined) throw new RangeError(`no leaf ${index}`);
      return leaf;
    }
    return nodeHash(at(level - 1, index * 2), at(level - 1, index * 2 + 1));
  };
  return (n) => at(n.level, n.index);
}

function isHash(value: Uint8Array): boolean {
  return value.length === HASH_BYTES;
}

/**
 * The root a leaf hash and its inclusion proof imply (RFC 9162 §2.1.3.2), or undefined when the proof
 * can't be one for this index and size (wrong length, a hash of the wrong size).
 */
export function rootFromInclusionProof(index: number, size: number, leaf: Uint8Array, proof: readonly Uint8Array[]): Buffer | undefined {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size || !isHash(leaf)) return undefined;
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of proof) {
    if (sn === 0 || !isHash(p)) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : undefined;
}

/** Whether `proof` shows leaf `index` (hash `leaf`) in the tree of `size` with root `root`. */
export function verifyInclusion(index: number, size: number, leaf: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  const computed = rootFromInclusionProof(index, size, leaf, proof);
  return computed !== undefined && isHash(root) && computed.equals(root);
}

/**
 * Whether `proof` shows the tree of `first` leaves (root `firstRoot`) is a prefix of the tree of
 * `second` leaves (root `secondRoot`): RFC 9162 §2.1.4.2.
 */
export function verifyConsistency(first: number, second: number, firstRoot: Uint8Array, secondRoot: Uint8Array, proof: readonly Uint8Array[]): boolean {
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first < 0 || second < first) return false;
  if (!isHash(firstRoot) || !isHash(secondRoot) || proof.some((p) => !isHash(p))) return false;
  // Why these two: the empty tree is a prefix of every tree; a tree is consistent only with itself.
  if (first === 0) return proof.length === 0;
  if (first === second) return proof.length === 0 && Buffer.from(firstRoot).equals(secondRoot);
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof];
  const [head, ...rest] = path;
  if (head === undefined) return false;
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Buffer = Buffer.from(head);
  let sr: Buffer = Buffer.from(head);
  for (const c of rest) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && fr.equals(firstRoot) && sr.equals(secondRoot);
}
