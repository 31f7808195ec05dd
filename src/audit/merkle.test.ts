/**
 * RFC 6962 reference vectors, as published with the Certificate Transparency code
 * (transparency-dev/merkle: rfc6962/rfc6962_test.go and proof/verify_test.go): the hasher, the roots
 * of the 8-leaf test tree at every size, inclusion and consistency proofs; and the corruptions those
 * tests apply to each proof, every one of which must fail to verify.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import {
  consistencyRanges,
  EMPTY_ROOT,
  inclusionRanges,
  leafHash,
  memoryNodes,
  nodeHash,
  nodesCompletedBy,
  perfectNodesOf,
  rangeHash,
  rootFromInclusionProof,
  treeHash,
  verifyConsistency,
  verifyInclusion,
} from './merkle.ts';

const h = (hex: string) => Buffer.from(hex, 'hex');

const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(h);
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
].map(h);

/** Inclusion proofs: leaf index (0-based), tree size, proof. */
const INCLUSION: Array<[number, number, string[]]> = [
  [0, 1, []],
  [0, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [5, 8, ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [1, 5, ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
];

/** Consistency proofs: first size, second size, proof. */
const CONSISTENCY: Array<[number, number, string[]]> = [
  [1, 1, []],
  [1, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [6, 8, ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 5, ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
  [6, 7, ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
];

const SOME_HASH = h('abacaba000000000000000000000000000000000000000000060061e00123456');
const leafHashes = LEAVES.map((l) => leafHash(l));
const nodes = memoryNodes(leafHashes);
const root = (size: number) => ROOTS[size - 1] as Buffer;
const hexes = (proof: readonly Buffer[]) => proof.map((p) => p.toString('hex'));

test('the RFC 6962 hasher: empty tree, empty leaf, a leaf, a node', () => {
  assert.equal(EMPTY_ROOT.toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(leafHash(Buffer.alloc(0)).toString('hex'), '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
  assert.equal(leafHash('L123456').toString('hex'), '395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56');
  assert.equal(nodeHash(Buffer.from('N123'), Buffer.from('N456')).toString('hex'), 'aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb');
  // A node is not the leaf hash of its children's concatenation, and order matters.
  const [a, b] = [leafHash('Hello'), leafHash('World')];
  assert.notDeepEqual(nodeHash(a, b), leafHash(Buffer.concat([a, b])));
  assert.notDeepEqual(nodeHash(a, b), nodeHash(b, a));
});

test('the root of the reference tree at every size from 1 to 8', () => {
  for (let size = 1; size <= 8; size++) assert.equal(treeHash(leafHashes.slice(0, size)).toString('hex'), root(size).toString('hex'), `size ${size}`);
  assert.deepEqual(treeHash([]), EMPTY_ROOT);
});

test('inclusion proofs: generated equal to the vectors, and verified', () => {
  for (const [index, size, expected] of INCLUSION) {
    const proof = inclusionRanges(index, size).map((r) => rangeHash(r, nodes));
    assert.deepEqual(hexes(proof), expected, `proof of ${index} in ${size}`);
    assert.ok(verifyInclusion(index, size, leafHashes[index] as Buffer, proof, root(size)), `verify ${index} in ${size}`);
  }
});

test('every inclusion proof of every leaf of every size up to 8 verifies', () => {
  for (let size = 1; size <= 8; size++) {
    for (let index = 0; index < size; index++) {
      const proof = inclusionRanges(index, size).map((r) => rangeHash(r, nodes));
      assert.ok(verifyInclusion(index, size, leafHashes[index] as Buffer, proof, root(size)), `${index} in ${size}`);
    }
  }
});

test('corrupted inclusion proofs are refused (the reference tests\' probes)', () => {
  for (const [index, size, hexProof] of INCLUSION.filter(([, , p]) => p.length > 0)) {
    const proof = hexProof.map(h);
    const leaf = leafHashes[index] as Buffer;
    const r = root(size);
    const probes: Array<[string, number, number, Buffer, Buffer[], Buffer]> = [
      ['index - 1', index - 1, size, leaf, proof, r],
      ['index + 1', index + 1, size, leaf, proof, r],
      ['index ^ 2', index ^ 2, size, leaf, proof, r],
      ['size * 2', index, size * 2, leaf, proof, r],
      ['size / 2', index, Math.floor(size / 2), leaf, proof, r],
      ['wrong leaf', index, size, Buffer.from('WrongLeaf'), proof, r],
      ['empty root', index, size, leaf, proof, EMPTY_ROOT],
      ['random root', index, size, leaf, proof, SOME_HASH],
      ['trailing garbage', index, size, leaf, [...proof, Buffer.alloc(0)], r],
      ['trailing root', index, size, leaf, [...proof, r], r],
      ['preceding garbage', index, size, leaf, [Buffer.alloc(0), ...proof], r],
      ['preceding root', index, size, leaf, [r, ...proof], r],
      ['removed component', index, size, leaf, proof.slice(0, -1), r],
    ];
    if (proof.length > 1) probes.push(['inserted component', index, size, leaf, [proof[0] as Buffer, SOME_HASH, ...proof.slice(1)], r]);
    proof.forEach((_, i) => {
      const flipped = proof.map((p) => Buffer.from(p));
      const target = flipped[i] as Buffer;
      target[0] = (target[0] as number) ^ 8;
      probes.push([`modified proof[${i}]`, index, size, leaf, flipped, r]);
    });
    for (const [desc, i, s, l, p, rt] of probes) assert.equal(verifyInclusion(i, s, l, p, rt), false, `${desc} (${index} in ${size})`);
  }
  // A one-leaf tree: the root is the leaf hash and the proof is empty.
  const single = leafHash('data');
  assert.ok(verifyInclusion(0, 1, single, [], single));
  assert.equal(verifyInclusion(0, 1, Buffer.alloc(0), [], single), false);
  assert.equal(rootFromInclusionProof(0, 0, single, []), undefined);
  assert.equal(rootFromInclusionProof(2, 1, single, []), undefined);
});

test('consistency proofs: generated equal to the vectors, and verified', () => {
  for (const [first, second, expected] of CONSISTENCY) {
    const proof = consistencyRanges(first, second).map((r) => rangeHash(r, nodes));
    assert.deepEqual(hexes(proof), expected, `proof ${first} → ${second}`);
    assert.ok(verifyConsistency(first, second, root(first), root(second), proof), `verify ${first} → ${second}`);
  }
  for (let second = 1; second <= 8; second++) {
    for (let first = 1; first <= second; first++) {
      const proof = consistencyRanges(first, second).map((r) => rangeHash(r, nodes));
      assert.ok(verifyConsistency(first, second, root(first), root(second), proof), `${first} → ${second}`);
    }
  }
});

test('corrupted consistency proofs and impossible sizes are refused', () => {
  const [r1, r2] = [Buffer.alloc(32, 1), Buffer.alloc(32, 2)];
  assert.equal(verifyConsistency(1, 1, r1, r2, []), false);
  assert.ok(verifyConsistency(0, 0, r1, r1, []));
  assert.ok(verifyConsistency(0, 1, r1, r2, []));
  assert.ok(verifyConsistency(1, 1, r2, r2, []));
  assert.equal(verifyConsistency(1, 0, r1, r2, []), false);
  assert.equal(verifyConsistency(2, 1, r1, r2, []), false);
  assert.equal(verifyConsistency(1, 2, r1, r2, []), false);
  assert.equal(verifyConsistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]), false);
  assert.equal(verifyConsistency(1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]), false);
  for (const [first, second, hexProof] of CONSISTENCY.filter(([, , p]) => p.length > 0)) {
    const proof = hexProof.map(h);
    const [a, b] = [root(first), root(second)];
    const probes: Array<[string, number, number, Buffer, Buffer, Buffer[]]> = [
      ['first - 1', first - 1, second, a, b, proof],
      ['first + 1', first + 1, second, a, b, proof],
      ['first ^ 2', first ^ 2, second, a, b, proof],
      ['second * 2', first, second * 2, a, b, proof],
      ['second / 2', first, Math.floor(second / 2), a, b, proof],
      ['wrong first root', first, second, Buffer.from('WrongRoot'), b, proof],
      ['wrong second root', first, second, a, Buffer.from('WrongRoot'), proof],
      ['swapped roots', first, second, b, a, proof],
      ['empty proof', first, second, a, b, []],
      ['trailing garbage', first, second, a, b, [...proof, Buffer.alloc(0)]],
      ['trailing first root', first, second, a, b, [...proof, a]],
      ['trailing second root', first, second, a, b, [...proof, b]],
      ['preceding garbage', first, second, a, b, [Buffer.alloc(0), ...proof]],
      ['preceding first root', first, second, a, b, [a, ...proof]],
      ['preceding second root', first, second, a, b, [b, ...proof]],
      ['preceding proof[0]', first, second, a, b, [proof[0] as Buffer, ...proof]],
      ['truncated proof', first, second, a, b, proof.slice(0, -1)],
    ];
    proof.forEach((_, i) => {
      const flipped = proof.map((p) => Buffer.from(p));
      const target = flipped[i] as Buffer;
      target[0] = (target[0] as number) ^ 16;
      probes.push([`modified proof[${i}]`, first, second, a, b, flipped]);
    });
    for (const [desc, f, s, x, y, p] of probes) assert.equal(verifyConsistency(f, s, x, y, p), false, `${desc} (${first} → ${second})`);
  }
});

test('perfect subtrees: the decomposition of a range, and the nodes each append completes', () => {
  assert.deepEqual(perfectNodesOf([0, 7]), [{ level: 2, index: 0 }, { level: 1, index: 2 }, { level: 0, index: 6 }]);
  assert.deepEqual(perfectNodesOf([4, 8]), [{ level: 2, index: 1 }]);
  assert.deepEqual(nodesCompletedBy(0), []);
  assert.deepEqual(nodesCompletedBy(7), [{ level: 1, index: 3 }, { level: 2, index: 1 }, { level: 3, index: 0 }]);
  assert.deepEqual(nodesCompletedBy(5), [{ level: 1, index: 2 }]);
  assert.throws(() => inclusionRanges(8, 8), RangeError);
  assert.throws(() => consistencyRanges(9, 8), RangeError);
});
