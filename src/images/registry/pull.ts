/**
 * `airlock image pull`: a registry image fetched by digest into a temporary OCI image layout,
 * every blob verified as it streams, then imported (flattened, verified, stored) like a local one.
 *
 * The image policy is asked twice before any layer is downloaded: the origin (REGISTRY/REPOSITORY)
 * before anything is fetched, and, when its rule requires one, a signature over the manifest digest
 * once that is known. The controller's own fetch uses the host's network, not a sandbox's egress rules.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AirlockConfig } from '../../config/config.ts';
import { DEFAULT_IMPORT_LIMITS, importImage, type ImportLimits } from '../oci/index.ts';
import { ensureStore, storePaths } from '../paths.ts';
import { checkOrigin, unsignedRefusal, verifiedSigner } from '../signatures/policy.ts';
import { saveOrigin, saveSignature, type SignatureRecord } from '../signatures/records.ts';
import { RegistryClient, RegistryError } from './client.ts';
import { fetchCosignSignatures } from './cosign.ts';
import { registryCredentials, type RegistryCredentials } from './credentials.ts';
import { isIndex, parseImageManifest, pickPlatform } from './manifest.ts';
import type { PullProgress } from './progress.ts';
import { formatReference, originOf, parseReference } from './reference.ts';

/** Options of {@link pullImage}. */
export interface PullOptions {
  /** Store name; default: derived from the reference by the import (the repository's last component). */
  name?: string | undefined;
  /** Plain HTTP, for a loopback registry only. */
  insecureRegistry?: boolean | undefined;
  /** Credentials; default: looked up in the environment and the auth file (credentials.ts). */
  credentials?: RegistryCredentials | undefined;
  /** Overrides of the import limits (layers, unpacked bytes, entries). */
  limits?: Partial<ImportLimits> | undefined;
  onProgress?: ((p: PullProgress) => void) | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  /** Interrupts the pull: downloads and the import stop, and nothing is stored. */
  signal?: AbortSignal | undefined;
}

/** What a pull stored. */
export interface PullResult {
  name: string;
  /** The stored image's digest (what runtimes resolve and verify). */
  digest: string;
  /** The registry manifest digest it was pulled by. */
  manifestDigest: string;
  /** The reference, pinned to that digest. */
  reference: string;
  /** The trusted key whose signature verified, or null. */
  signer: string | null;
  layers: number;
  downloadedBytes: number;
  notes: string[];
}

const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

/** Prefix of pull download directories under the store's tmp/ (followed by the pid). */
export const PULL_TMP_PREFIX = 'pull-';

/** Pulls `reference` into the store of `config`. Throws an ImagePolicyRefusal, a RegistryError or an import error. */
export async function pullImage(config: AirlockConfig, reference: string, options: PullOptions = {}): Promise<PullResult> {
  const ref = parseReference(reference);
  const origin = originOf(ref);
  // Why first: a registry the policy does not allow is not even asked (no credentials sent, nothing fetched).
  const rule = checkOrigin(config.imagePolicy, origin);
  const credentials = options.credentials ?? (await registryCredentials(ref.registry, options.env));
  const client = new RegistryClient({ reference: ref, credentials, insecure: options.insecureRegistry, signal: options.signal });
  const top = await client.manifest(ref.digest ?? (ref.tag as string));
  let manifestBytes = top.bytes;
  let manifestDigest = top.digest;
  let manifestType = top.mediaType;
  let indexDigest: string | undefined;
  if (isIndex(top.bytes, top.mediaType)) {
    indexDigest = top.digest;
    const chosen = pickPlatform(top.bytes);
    const platform = await client.manifest(chosen.digest);
    manifestBytes = platform.bytes;
    manifestDigest = platform.digest;
    manifestType = platform.mediaType || chosen.mediaType;
  }
  const manifest = parseImageManifest(manifestBytes, manifestType);
  const limits = { ...DEFAULT_IMPORT_LIMITS, ...options.limits };
  if (manifest.layers.length > limits.maxLayers) throw new RegistryError(`the image has ${manifest.layers.length} layers, more than the limit of ${limits.maxLayers}`);
  const totalBytes = manifest.layers.reduce((n, l) => n + l.size, 0);
  // Why: compressed layers never unpack to less than nothing; more download than the unpack limit is a bomb or a mistake.
  if (totalBytes > limits.maxUnpackedBytes) throw new RegistryError(`the image's layers declare ${totalBytes} bytes, more than the ${limits.maxUnpackedBytes} unpacked bytes allowed`);

  const pinned = formatReference({ ...ref, digest: indexDigest ?? manifestDigest });
  const digests = new Set([manifestDigest, ...(indexDigest === undefined ? [] : [indexDigest])]);
  const signatures: SignatureRecord[] = [];
  for (const d of digests) {
    try {
      signatures.push(...(await fetchCosignSignatures(client, d, origin)));
    } catch (err) {
      // Signatures are optional unless the rule requires one: an unreadable `.sig` tag then refuses the pull.
      if (rule?.requireSignature === true) throw err;
    }
  }
  const signed = rule === undefined ? null : await verifiedSigner(rule, signatures, digests);
  // Why before the layers: an image the policy will refuse is not downloaded at all.
  if (rule?.requireSignature === true && signed === null) throw unsignedRefusal(rule, `image ${pinned}`, signatures.length);

  const paths = storePaths(config);
  await ensureStore(paths);
  // Named with the pid, like an import's work directory, so garbage collection can tell an abandoned one.
  const dir = await mkdtemp(join(paths.tmp, `${PULL_TMP_PREFIX}${process.pid}-`));
  try {
    const blobs = join(dir, 'blobs', 'sha256');
    await mkdir(blobs, { recursive: true, mode: 0o700 });
    await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await writeFile(join(blobs, manifestDigest.slice('sha256:'.length)), manifestBytes);
    await writeFile(
      join(dir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [{ mediaType: manifest.mediaType, digest: manifestDigest, size: manifestBytes.length, annotations: { 'org.opencontainers.image.ref.name': ref.tag ?? 'latest' } }],
      }),
    );
    await writeFile(join(blobs, manifest.config.digest.slice('sha256:'.length)), await client.smallBlob(manifest.config.digest, manifest.config.size, MAX_CONFIG_BYTES));
    const progress: PullProgress = { phase: 'download', layers: manifest.layers.length, layersDone: 0, bytes: 0, totalBytes };
    const written = new Set<string>();
    for (const layer of manifest.layers) {
      // The same layer listed twice is downloaded once (the second write would fail: files are created exclusively).
      if (!written.has(layer.digest)) {
        await client.blobToFile(layer.digest, layer.size, join(blobs, layer.digest.slice('sha256:'.length)), (n) => {
          progress.bytes += n;
          options.onProgress?.(progress);
        });
        written.add(layer.digest);
      }
      progress.layersDone++;
      options.onProgress?.(progress);
    }
    const imported = await importImage(dir, {
      config,
      // Without a name, the import derives one from the reference (one rule for pull and import).
      ...(options.name === undefined ? {} : { name: options.name }),
      source: { kind: 'registry', reference: pinned },
      limits: options.limits ?? {},
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      onProgress: (p) => options.onProgress?.({ phase: 'import', layers: p.layers, layersDone: p.layersDone, bytes: p.bytes, totalBytes }),
    });
    await saveOrigin(paths, imported.imageDigest, { origin, reference: pinned, manifestDigest, indexDigest });
    for (const s of signatures) await saveSignature(paths, imported.imageDigest, s);
    return {
      name: imported.name,
      digest: imported.imageDigest,
      manifestDigest,
      reference: pinned,
      signer: signed?.signer ?? null,
      layers: manifest.layers.length,
      downloadedBytes: progress.bytes,
      notes: imported.notes,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
