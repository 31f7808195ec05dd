/**
 * Key files: PREFIX holds the PKCS#8 PEM private key (mode 0600), PREFIX.pub the SPKI PEM public key.
 * Node-only (node:fs).
 */
import { constants } from 'node:fs';
import { open, readFile, stat, unlink } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import { generateEd25519KeyPair, keyId, parsePrivateKeyPem, parsePublicKeyPem, privateKeyPem, publicKeyPem } from './keys.ts';

/** What `writeNewKeyPair` wrote. */
export interface WrittenKeyPair {
  readonly privateKeyPath: string;
  readonly publicKeyPath: string;
  readonly keyId: string;
}

/** The public key file that belongs to a private key file. */
export function publicKeyPath(prefix: string): string {
  return `${prefix}.pub`;
}

async function writeExclusive(path: string, content: string, mode: number): Promise<void> {
  // Why O_EXCL: never overwrite an existing key (or follow a planted link to another file);
  // O_NOFOLLOW as well, so a dangling link at the path is refused too.
  const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    // Why chmod after open: the umask may narrow the mode but the private key must be exactly 0600.
    await handle.chmod(mode);
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function alreadyExists(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'EEXIST' || (err as NodeJS.ErrnoException).code === 'ELOOP';
}

/**
 * Generates an Ed25519 key pair and writes PREFIX (private, 0600) and PREFIX.pub (public, 0644).
 * Refuses, writing nothing, when either file already exists.
 */
export async function writeNewKeyPair(prefix: string): Promise<WrittenKeyPair> {
  const pubPath = publicKeyPath(prefix);
  const { privateKey, publicKey } = generateEd25519KeyPair();
  try {
    await writeExclusive(prefix, privateKeyPem(privateKey), 0o600);
  } catch (err) {
    if (alreadyExists(err)) throw new Error(`refusing to overwrite ${prefix}: it already exists`, { cause: err });
    throw err;
  }
  try {
    await writeExclusive(pubPath, publicKeyPem(publicKey), 0o644);
  } catch (err) {
    // Half a pair is no use and its private half must not linger: remove what this call created.
    await unlink(prefix);
    if (alreadyExists(err)) throw new Error(`refusing to overwrite ${pubPath}: it already exists`, { cause: err });
    throw err;
  }
  return { privateKeyPath: prefix, publicKeyPath: pubPath, keyId: keyId(publicKey) };
}

/**
 * Loads an Ed25519 private key from a PKCS#8 PEM file. Refuses a file that group or others may read
 * or write, like ssh does.
 */
export async function loadPrivateKeyFile(path: string): Promise<KeyObject> {
  const info = await stat(path);
  // Why: a signing key others can read is a shared identity; one others can write is theirs to replace.
  if ((info.mode & 0o077) !== 0) {
    throw new Error(`private key ${path} is accessible by group or others (mode ${(info.mode & 0o777).toString(8).padStart(4, '0')}); chmod 600 it`);
  }
  return parsePrivateKeyPem(await readFile(path, 'utf8'), `private key ${path}`);
}

/** Loads an Ed25519 public key from an SPKI PEM file. */
export async function loadPublicKeyFile(path: string): Promise<KeyObject> {
  return parsePublicKeyPem(await readFile(path, 'utf8'), `public key ${path}`);
}
