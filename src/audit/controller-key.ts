/**
 * The controller's own Ed25519 key: it signs audit tree heads (and so every receipt). Kept beside
 * the store unless `audit.keyFile` says otherwise; created on the controller's first start, never
 * overwritten. Its public half (FILE.pub) is what `airlock receipt verify --key` and
 * `airlock audit verify` check against.
 */
import { dirname, join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { AirlockConfig } from '../config/config.ts';
import { loadPrivateKeyFile, publicKeyPath, writeNewKeyPair } from '../signing/key-files.ts';

/** Where the controller key lives: `audit.keyFile`, else `controller.key` in the store's directory. */
export function controllerKeyPath(config: Pick<AirlockConfig, 'audit'>, storePath: string): string {
  return config.audit.keyFile ?? join(dirname(storePath), 'controller.key');
}

/** The public key file of the controller key at `path`. */
export function controllerPublicKeyPath(path: string): string {
  return publicKeyPath(path);
}

/** Loads the controller key at `path`, creating the pair (0600 / 0644) when there is none. */
export async function loadOrCreateControllerKey(path: string): Promise<KeyObject> {
  try {
    return await loadPrivateKeyFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`controller key ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    await writeNewKeyPair(path);
  } catch (err) {
    // Another process created it first: use theirs.
    if (!/refusing to overwrite/.test((err as Error).message)) throw new Error(`controller key ${path} could not be created: ${(err as Error).message}`, { cause: err });
  }
  return loadPrivateKeyFile(path);
}
