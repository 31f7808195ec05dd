/**
 * Signed tree heads: the controller's Ed25519 signature over the RFC 8785 canonical JSON of
 * {type, tree_size, root_hash, timestamp}. A head commits to every record below its size; anyone
 * with the controller's public key checks one offline.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../signing/canonical-json.ts';
import { keyId } from '../signing/keys.ts';
import { HASH_BYTES } from './merkle.ts';

/** What the signature's message says it is: a head of this log format. */
export const TREE_HEAD_TYPE = 'airlock-audit-tree-head/v1';

/** A signed tree head (the wire form). */
export interface SignedTreeHead {
  readonly tree_size: number;
  /** Hex SHA-256 MTH of the first tree_size records. */
  readonly root_hash: string;
  /** When it was signed (ISO 8601 UTC). */
  readonly timestamp: string;
  /** RFC 7638 thumbprint of the controller key that signed it. */
  readonly key_id: string;
  /** base64url Ed25519 signature of `treeHeadMessage`. */
  readonly signature: string;
}

/** The exact bytes a head's signature covers. */
export function treeHeadMessage(head: Pick<SignedTreeHead, 'tree_size' | 'root_hash' | 'timestamp'>): Buffer {
  return Buffer.from(canonicalJson({ type: TREE_HEAD_TYPE, tree_size: head.tree_size, root_hash: head.root_hash, timestamp: head.timestamp }), 'utf8');
}

/** Signs the head of a tree of `size` with root `root`. */
export function signTreeHead(size: number, root: Buffer, timeMs: number, privateKey: KeyObject): SignedTreeHead {
  const unsigned = { tree_size: size, root_hash: root.toString('hex'), timestamp: new Date(timeMs).toISOString() };
  return { ...unsigned, key_id: keyId(privateKey), signature: sign(null, treeHeadMessage(unsigned), privateKey).toString('base64url') };
}

/** Checks a head's shape; throws naming the first field that is wrong. */
export function checkTreeHead(value: unknown): SignedTreeHead {
  const head = value as Partial<SignedTreeHead> | null;
  if (head === null || typeof head !== 'object') throw new Error('a tree head is a JSON object');
  if (!Number.isSafeInteger(head.tree_size) || (head.tree_size as number) < 0) throw new Error('tree_size: a whole number ≥ 0');
  if (typeof head.root_hash !== 'string' || !new RegExp(`^[0-9a-f]{${HASH_BYTES * 2}}$`).test(head.root_hash)) throw new Error('root_hash: 64 lowercase hex digits');
  if (typeof head.timestamp !== 'string' || Number.isNaN(Date.parse(head.timestamp))) throw new Error('timestamp: an ISO 8601 time');
  if (typeof head.key_id !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(head.key_id)) throw new Error('key_id: a key thumbprint (43 base64url characters)');
  if (typeof head.signature !== 'string' || !/^[A-Za-z0-9_-]{86}$/.test(head.signature)) throw new Error('signature: 86 base64url characters (Ed25519)');
  return { tree_size: head.tree_size as number, root_hash: head.root_hash, timestamp: head.timestamp, key_id: head.key_id, signature: head.signature };
}

/** Whether `head` is signed by `publicKey` (and names that key). */
export function verifyTreeHead(head: SignedTreeHead, publicKey: KeyObject): boolean {
  // Why the key id too: a head naming another key must not verify by accident of a shared message.
  if (head.key_id !== keyId(publicKey)) return false;
  return verify(null, treeHeadMessage(head), publicKey, Buffer.from(head.signature, 'base64url'));
}
