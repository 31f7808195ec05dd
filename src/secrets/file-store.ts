/**
 * The controller's encrypted secret store: `${stateDir}/secrets/`.
 *
 *   key              32 random bytes (AES-256-GCM key), 0600, made once
 *   values/NAME.json {v, iv, tag, data, updated_at}: the value encrypted under the key, 0600
 *
 * Every directory is 0700 and owned by the controller's user. Each write is a new file made with
 * O_EXCL, flushed, then renamed over the old one, so a crash leaves the old value or the new one,
 * never half of either. The value's name is authenticated with it (GCM additional data): a file
 * copied to another name does not decrypt.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import type { SecretListing, WritableSecretProvider } from './provider.ts';
import { checkSecretName, isSecretName } from './names.ts';
import { checkSecretValue, SecretValue } from './value.ts';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const FORMAT = 1;

/** A store that can't be used safely (a key readable by others, a tampered value): fail closed. */
export class SecretStoreError extends Error {
  override readonly name = 'SecretStoreError';
}

interface SealedValue {
  v: number;
  iv: string;
  tag: string;
  data: string;
  updated_at: string;
}

/** The encrypted file store (provider kind `store`). */
export class FileSecretStore implements WritableSecretProvider {
  readonly kind = 'store';
  readonly dir: string;

  /** `dir`: the store directory, normally `${stateDir}/secrets`. */
  constructor(dir: string) {
    this.dir = dir;
  }

  async list(): Promise<SecretListing[]> {
    let names: string[];
    try {
      names = readdirSync(this.valuesDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const listings: SecretListing[] = [];
    for (const file of names.sort()) {
      const name = file.endsWith('.json') ? file.slice(0, -'.json'.length) : '';
      // Temporary files of an interrupted write, or anything else, are not secrets.
      if (!isSecretName(name)) continue;
      const sealed = this.readSealed(name);
      if (sealed !== undefined) listings.push({ name, provider: this.kind, updated_at: sealed.updated_at });
    }
    return listings;
  }

  async get(name: string): Promise<SecretValue | undefined> {
    checkSecretName(name);
    const sealed = this.readSealed(name);
    if (sealed === undefined) return undefined;
    const key = this.readKey(false);
    if (key === undefined) throw new SecretStoreError(`secret ${name}: the store has a value but no key (${this.keyPath})`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
      decipher.setAAD(aad(name));
      decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
      return new SecretValue(name, Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]));
    } catch (err) {
      // Why no detail: a decryption failure means tampering or the wrong key; the cause could only quote bytes.
      throw new SecretStoreError(`secret ${name}: its stored value does not decrypt (tampered, or sealed under another key)`, { cause: err });
    }
  }

  async set(name: string, value: Buffer): Promise<void> {
    checkSecretName(name);
    checkSecretValue(name, value);
    const key = this.readKey(true) as Buffer;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(aad(name));
    const data = Buffer.concat([cipher.update(value), cipher.final()]);
    const sealed: SealedValue = { v: FORMAT, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64'), updated_at: new Date().toISOString() };
    this.ensureDir(this.valuesDir);
    const target = this.valuePath(name);
    const tmp = writeExclusive(`${this.valuesDir}/.${name}.${randomBytes(6).toString('hex')}.tmp`, Buffer.from(JSON.stringify(sealed)));
    try {
      renameSync(tmp, target);
    } catch (err) {
      unlinkQuietly(tmp);
      throw err;
    }
  }

  async remove(name: string): Promise<boolean> {
    checkSecretName(name);
    try {
      unlinkSync(this.valuePath(name));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  get keyPath(): string {
    return `${this.dir}/key`;
  }

  private get valuesDir(): string {
    return `${this.dir}/values`;
  }

  private valuePath(name: string): string {
    return `${this.valuesDir}/${name}.json`;
  }

  private readSealed(name: string): SealedValue | undefined {
    const path = this.valuePath(name);
    let text: string;
    try {
      checkPrivate(path, 'file');
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    let sealed: Partial<SealedValue>;
    try {
      sealed = JSON.parse(text) as Partial<SealedValue>;
    } catch {
      throw new SecretStoreError(`secret ${name}: ${path} is not a sealed value`);
    }
    if (sealed.v !== FORMAT || typeof sealed.iv !== 'string' || typeof sealed.tag !== 'string' || typeof sealed.data !== 'string' || typeof sealed.updated_at !== 'string') {
      throw new SecretStoreError(`secret ${name}: ${path} is not a sealed value of format ${FORMAT}`);
    }
    return sealed as SealedValue;
  }

  /** The key; made (atomically, once) when `create` and absent. */
  private readKey(create: boolean): Buffer | undefined {
    const existing = this.existingKey();
    if (existing !== undefined || !create) return existing;
    this.ensureDir(this.dir);
    const tmp = writeExclusive(`${this.dir}/.key.${randomBytes(6).toString('hex')}.tmp`, randomBytes(KEY_BYTES));
    try {
      // Why link, not rename: a concurrent `set` that made the key first wins; its key is never replaced.
      linkSync(tmp, this.keyPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      unlinkQuietly(tmp);
    }
    return this.readKey(false);
  }

  /** The key file's bytes, or undefined when there is none; a key others could read is refused. */
  private existingKey(): Buffer | undefined {
    let key: Buffer;
    try {
      checkPrivate(this.keyPath, 'file');
      key = readFileSync(this.keyPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    if (key.length !== KEY_BYTES) throw new SecretStoreError(`${this.keyPath} is not a ${KEY_BYTES}-byte key`);
    return key;
  }

  private ensureDir(dir: string): void {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    checkPrivate(dir, 'dir');
  }
}

function aad(name: string): Buffer {
  return Buffer.from(`airlock-secret:v${FORMAT}:${name}`);
}

/**
 * Refuses a store path that others could read or swap: it must be of the expected kind (never a
 * symlink), owned by this process's user, with no group or other permission bits.
 */
function checkPrivate(path: string, kind: 'file' | 'dir'): void {
  const st = lstatSync(path);
  const uid = process.geteuid?.();
  if (kind === 'file' ? !st.isFile() : !st.isDirectory()) throw new SecretStoreError(`${path} is not a ${kind === 'file' ? 'regular file' : 'directory'}`);
  // Why: a key or value another user can read (or replace) is no longer a secret of the controller's.
  if ((uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0) {
    throw new SecretStoreError(`${path} must be owned by uid ${uid} with no group or other access (it is uid ${st.uid}, mode ${(st.mode & 0o777).toString(8)})`);
  }
}

/** Writes a new 0600 file (O_EXCL, flushed); returns its path. */
function writeExclusive(path: string, data: Buffer): string {
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkQuietly(path);
    throw err;
  }
  closeSync(fd);
  return path;
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}
