/**
 * Forensic bundles: a zip of named entries plus MANIFEST.json (the SHA-256 of every other entry)
 * and MANIFEST.sig (the controller's Ed25519 signature over MANIFEST.json's exact bytes). Anyone
 * with the controller's public key checks a bundle offline: an edited, added or removed entry, or
 * a manifest that was not signed by that key, is named.
 */
import { createHash, sign, verify, type KeyObject } from 'node:crypto';
import { unzipSync, zipSync } from 'fflate';

/** What MANIFEST.json says it is. */
export const BUNDLE_TYPE = 'airlock-forensic-bundle/v1';
export const MANIFEST_ENTRY = 'MANIFEST.json';
export const SIGNATURE_ENTRY = 'MANIFEST.sig';

/** The signed manifest. */
export interface BundleManifest {
  readonly type: typeof BUNDLE_TYPE;
  readonly sandbox_id: string;
  readonly created_at: string;
  /** Entry name → hex SHA-256 of its bytes; every entry but the manifest and its signature. */
  readonly entries: Readonly<Record<string, string>>;
}

/** The outcome of checking a bundle: every problem found, or the manifest it vouches for. */
export type BundleCheck = { readonly ok: true; readonly manifest: BundleManifest } | { readonly ok: false; readonly problems: string[] };

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Entry names are relative paths without `..`: a bundle unpacked by hand can't write outside its folder. */
function checkName(name: string): void {
  if (name === '' || name.startsWith('/') || name.split('/').some((part) => part === '..' || part === '') || name === MANIFEST_ENTRY || name === SIGNATURE_ENTRY) {
    throw new Error(`forensic bundle entry name ${JSON.stringify(name)} is not allowed`);
  }
}

/** Builds the zip bytes of a bundle for `sandboxId` from `entries`, signed with `privateKey`. */
export function buildBundle(sandboxId: string, entries: ReadonlyMap<string, Uint8Array>, privateKey: KeyObject, now = new Date()): Uint8Array {
  const digests: Record<string, string> = {};
  for (const [name, bytes] of [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    checkName(name);
    digests[name] = sha256(bytes);
  }
  const manifest: BundleManifest = { type: BUNDLE_TYPE, sandbox_id: sandboxId, created_at: now.toISOString(), entries: digests };
  const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 1)}\n`);
  const signature = sign(null, manifestBytes, privateKey);
  const files: Record<string, Uint8Array> = { [MANIFEST_ENTRY]: manifestBytes, [SIGNATURE_ENTRY]: Buffer.from(`${signature.toString('base64')}\n`) };
  for (const [name, bytes] of entries) files[name] = bytes;
  // Why mtime fixed to the capture time: the zip's own metadata is not what is vouched for, the digests are.
  return zipSync(files, { level: 6, mtime: now });
}

/** Checks zip bytes against the controller's public key; lists every problem found. */
export function verifyBundle(zip: Uint8Array, publicKey: KeyObject): BundleCheck {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(zip);
  } catch (err) {
    return { ok: false, problems: [`not a readable zip: ${(err as Error).message}`] };
  }
  const manifestBytes = files[MANIFEST_ENTRY];
  const signatureText = files[SIGNATURE_ENTRY];
  if (manifestBytes === undefined) return { ok: false, problems: [`${MANIFEST_ENTRY} is missing`] };
  if (signatureText === undefined) return { ok: false, problems: [`${SIGNATURE_ENTRY} is missing`] };
  const problems: string[] = [];
  const signature = Buffer.from(Buffer.from(signatureText).toString('ascii').trim(), 'base64');
  // Why the signature first and on the exact bytes: a manifest edited to match edited entries is caught here.
  if (signature.length !== 64 || !verify(null, manifestBytes, publicKey, signature)) problems.push(`${SIGNATURE_ENTRY}: the manifest is not signed by this controller key`);
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(Buffer.from(manifestBytes).toString('utf8')) as BundleManifest;
    if (manifest.type !== BUNDLE_TYPE || manifest.entries === null || typeof manifest.entries !== 'object') throw new Error(`type must be ${BUNDLE_TYPE} with an entries object`);
  } catch (err) {
    return { ok: false, problems: [...problems, `${MANIFEST_ENTRY}: ${(err as Error).message}`] };
  }
  for (const [name, digest] of Object.entries(manifest.entries)) {
    const bytes = files[name];
    if (bytes === undefined) problems.push(`${name}: removed (listed in the manifest, absent from the bundle)`);
    else if (sha256(bytes) !== digest) problems.push(`${name}: changed (its SHA-256 differs from the manifest's)`);
  }
  for (const name of Object.keys(files)) {
    if (name !== MANIFEST_ENTRY && name !== SIGNATURE_ENTRY && !Object.hasOwn(manifest.entries, name)) problems.push(`${name}: added (not in the manifest)`);
  }
  return problems.length === 0 ? { ok: true, manifest } : { ok: false, problems };
}
