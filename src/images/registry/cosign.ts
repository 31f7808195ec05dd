/**
 * Cosign signatures stored in a registry: the manifest tagged `sha256-<hex>.sig` beside the image,
 * one layer per signature, whose blob is the simple-signing payload and whose
 * `dev.cosignproject.cosign/signature` annotation is the base64 signature over it.
 */
import type { SignatureRecord } from '../signatures/records.ts';
import type { RegistryClient } from './client.ts';
import { parseImageManifest } from './manifest.ts';

/** The annotation carrying a layer's signature. */
export const COSIGN_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
/** The media type of a simple-signing payload layer. */
export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';

/** Most signatures read from one `.sig` manifest, and the largest payload. Why: a hostile registry decides both. */
const MAX_SIGNATURES = 16;
const MAX_PAYLOAD_BYTES = 64 * 1024;

/** The tag cosign stores an image's signatures under. */
export function signatureTag(manifestDigest: string): string {
  return `${manifestDigest.replace(':', '-')}.sig`;
}

/**
 * The signatures the registry holds for `manifestDigest`, unverified (the policy verifies them
 * with its keys); empty when there is no `.sig` tag. Payloads are fetched by digest and checked.
 */
export async function fetchCosignSignatures(client: RegistryClient, manifestDigest: string, source: string): Promise<SignatureRecord[]> {
  const sig = await client.manifestIfExists(signatureTag(manifestDigest));
  if (sig === null) return [];
  const manifest = parseImageManifest(sig.bytes, sig.mediaType);
  const out: SignatureRecord[] = [];
  for (const layer of manifest.layers.slice(0, MAX_SIGNATURES)) {
    const signature = layer.annotations?.[COSIGN_SIGNATURE_ANNOTATION];
    if (typeof signature !== 'string' || signature === '') continue;
    const payload = await client.smallBlob(layer.digest, layer.size, MAX_PAYLOAD_BYTES);
    out.push({ format: 'cosign', payload: payload.toString('base64'), signature, source: `${source}@${manifestDigest} (${signatureTag(manifestDigest)})` });
  }
  return out;
}
