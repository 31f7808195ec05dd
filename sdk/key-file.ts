/**
 * Loading the signing key from a file, for Node: the PKCS#8 PEM private key `airlock keys gen`
 * writes. Node-only (node:fs).
 */
import { readFile, stat } from 'node:fs/promises';
import { importSigningKey, type SigningKey } from './signing.ts';

/**
 * Loads the Ed25519 private key at `path` for `ConnectionOptions.signer`. Refuses a file that group
 * or others may read or write, as ssh does; errors name the file, never its content.
 */
export async function loadSigningKey(path: string): Promise<SigningKey> {
  if (typeof path !== 'string' || path === '') throw new TypeError('the key path must be a non-empty string');
  const info = await stat(path);
  if (!info.isFile()) throw new Error(`private key ${path} is not a regular file`);
  // Why: a signing key others can read is a shared identity; one others can write is theirs to replace.
  if ((info.mode & 0o077) !== 0) {
    throw new Error(`private key ${path} is accessible by group or others (mode ${(info.mode & 0o777).toString(8).padStart(4, '0')}); chmod 600 it`);
  }
  try {
    return await importSigningKey(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`private key ${path}: ${(err as Error).message}`, { cause: err });
  }
}
