/** Helpers of the store's tests: a temporary store directory and fresh Ed25519 public keys. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { generateEd25519KeyPair, keyId, publicKeyPem } from '../signing/keys.ts';

/** A new temporary directory, removed after the test; the store path inside it is `<dir>/store/airlock.db`. */
export async function tempStorePath(t: TestContext): Promise<{ dir: string; path: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return { dir, path: join(dir, 'store', 'airlock.db') };
}

/** A fresh Ed25519 key: its public PEM, its id and the pair. */
export function freshKey() {
  const pair = generateEd25519KeyPair();
  return { pem: publicKeyPem(pair.publicKey), id: keyId(pair.publicKey), ...pair };
}
