/**
 * The right edge of a Merkle tree being built leaf by leaf (a "compact range" from index 0): the
 * perfect subtrees of the tree so far, largest first. Its root equals RFC 6962's MTH at every size,
 * in O(log n) memory, so a whole log is checked in one pass.
 */
import { EMPTY_ROOT, nodeHash } from './merkle.ts';

/** A tree's right edge, grown one leaf hash at a time. */
export class Frontier {
  readonly #stack: Buffer[] = [];
  #size = 0;

  /** Leaves added. */
  get size(): number {
    return this.#size;
  }

  /** Adds the next leaf hash, merging every subtree it completes. */
  push(leaf: Buffer): void {
    this.#stack.push(leaf);
    let index = this.#size;
    while (index % 2 === 1) {
      const right = this.#stack.pop() as Buffer;
      const left = this.#stack.pop() as Buffer;
      this.#stack.push(nodeHash(left, right));
      index = (index - 1) / 2;
    }
    this.#size += 1;
  }

  /** MTH of the leaves added so far. */
  root(): Buffer {
    if (this.#stack.length === 0) return EMPTY_ROOT;
    let root = this.#stack[this.#stack.length - 1] as Buffer;
    for (let i = this.#stack.length - 2; i >= 0; i--) root = nodeHash(this.#stack[i] as Buffer, root);
    return root;
  }
}
