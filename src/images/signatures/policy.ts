/**
 * The image policy (config `imagePolicy`): which origins may be used and which need a signature by
 * a trusted key. Checked when an image is pulled (before anything is fetched, then with the
 * registry's signatures) and on every run or create (admission, and again where the image is
 * resolved, so what runs is what was checked).
 */
import { matchesGlob } from 'node:path/posix';
import type { AirlockConfig } from '../../config/config.ts';
import type { ImagePolicyConfig, ImagePolicyRule } from '../../config/image-policy-config.ts';
import { ControlError } from '../../host/control-error.ts';
import type { Image } from '../image.ts';
import { isDigest } from '../manifest.ts';
import { storePaths } from '../paths.ts';
import { loadTrustedKey, verifyPayloadSignature } from './keys.ts';
import { parsePayload } from './payload.ts';
import { readOrigins, readSignatures, type SignatureRecord } from './records.ts';

/** An image the policy refuses; the message names the rule (or `imagePolicy.unmatched`). */
export class ImagePolicyRefusal extends ControlError {
  /** The rule that refused, or null for an origin no rule matches. */
  readonly rule: string | null;
  constructor(rule: string | null, message: string) {
    super('image_policy', message);
    this.name = 'ImagePolicyRefusal';
    this.rule = rule;
  }
}

/**
 * The message a refusal gives when checking the policy failed: the refusal's own, or why the
 * policy could not be checked. Why both refuse: a policy that can't be checked (a trusted key file
 * unreadable, a corrupt record) must not let the image through.
 */
export function imagePolicyFailure(err: unknown): string {
  return err instanceof ImagePolicyRefusal ? err.message : `image_policy: the image policy could not be checked: ${(err as Error).message}`;
}

/** What the policy found for an allowed image. */
export interface ImageTrust {
  /** The origin the decision was made on (`REGISTRY/REPOSITORY` or `local/NAME`). */
  origin: string;
  /** The rule that allowed it; null when no rule matched and unmatched images are allowed. */
  rule: string | null;
  /** Id of the trusted key whose signature verified, or null when none did (or none was asked for). */
  signer: string | null;
  /** How that signature was made, or null. */
  signatureFormat: SignatureRecord['format'] | null;
}

/** The origin of an image built or imported on this host, by the name it was asked for by. */
export function localOrigin(name: string): string {
  return `local/${name}`;
}

/** The first rule whose globs cover `origin`. */
export function ruleFor(policy: ImagePolicyConfig, origin: string): ImagePolicyRule | undefined {
  return policy.rules.find((r) => r.match.some((glob) => matchesGlob(origin, glob)));
}

/**
 * Whether an origin may be used at all (a pull asks before fetching anything); returns its rule.
 * Throws an ImagePolicyRefusal when no rule matches and `unmatched` is `deny`.
 */
export function checkOrigin(policy: ImagePolicyConfig, origin: string): ImagePolicyRule | undefined {
  const rule = ruleFor(policy, origin);
  if (rule === undefined && policy.unmatched === 'deny') {
    throw new ImagePolicyRefusal(null, `image origin ${origin} is not allowed: no imagePolicy rule matches it and imagePolicy.unmatched is deny`);
  }
  return rule;
}

/**
 * The id of the first of `rule`'s keys that signed one of `records` over a payload bound to one of
 * `digests`, with the record's format; null when none did.
 */
export async function verifiedSigner(
  rule: ImagePolicyRule,
  records: readonly SignatureRecord[],
  digests: ReadonlySet<string>,
): Promise<{ signer: string; format: SignatureRecord['format'] } | null> {
  if (records.length === 0 || rule.keys.length === 0) return null;
  const keys = await Promise.all(rule.keys.map((k) => loadTrustedKey(k)));
  for (const record of records) {
    const payload = Buffer.from(record.payload, 'base64');
    const signature = Buffer.from(record.signature, 'base64');
    for (const { id, key } of keys) {
      if (!verifyPayloadSignature(key, payload, signature)) continue;
      // Why the digest: a valid signature over another image's payload vouches for that image only.
      let claim;
      try {
        claim = parsePayload(payload);
      } catch {
        continue;
      }
      if (digests.has(claim.digest)) return { signer: id, format: record.format };
    }
  }
  return null;
}

/** The refusal of an image a rule requires a signature for, and which has none that verifies. */
export function unsignedRefusal(rule: ImagePolicyRule, what: string, checked: number): ImagePolicyRefusal {
  const found = checked === 0 ? 'it has no signature' : `none of its ${checked} signature(s) verifies with the rule's keys (${rule.keys.map((k) => k.id).join(', ')}) over its digest`;
  return new ImagePolicyRefusal(rule.name, `${what} is refused by imagePolicy rule "${rule.name}", which requires a signature: ${found}`);
}

/**
 * Decides on a stored image: its origins (recorded at pull; `local/NAME` otherwise) and the
 * signatures kept beside it, verified now with the policy's keys. Allowed if one origin's rule
 * allows it; otherwise throws the refusal of the first origin, naming its rule.
 */
export async function evaluateStoredImage(config: Pick<AirlockConfig, 'stateDir' | 'imagePolicy'>, image: Image): Promise<ImageTrust> {
  const policy = config.imagePolicy;
  const paths = storePaths(config);
  const origins = await readOrigins(paths, image.digest);
  const candidates = origins.length > 0 ? origins.map((o) => ({ origin: o.origin, digests: [image.digest, o.manifestDigest, ...(o.indexDigest !== undefined && isDigest(o.indexDigest) ? [o.indexDigest] : [])] })) : [{ origin: localOrigin(image.name), digests: [image.digest] }];
  // Why only when a rule has keys: an image no key can vouch for needs no signature read at all.
  const records = policy.rules.some((r) => r.keys.length > 0) ? await readSignatures(paths, image.digest) : [];
  const what = `image ${isDigest(image.name) ? image.digest : `${image.name} (${image.digest})`}`;
  let first: ImagePolicyRefusal | undefined;
  for (const { origin, digests } of candidates) {
    let rule: ImagePolicyRule | undefined;
    try {
      rule = checkOrigin(policy, origin);
    } catch (err) {
      first ??= err as ImagePolicyRefusal;
      continue;
    }
    if (rule === undefined) return { origin, rule: null, signer: null, signatureFormat: null };
    const signed = await verifiedSigner(rule, records, new Set(digests));
    if (signed !== null) return { origin, rule: rule.name, signer: signed.signer, signatureFormat: signed.format };
    if (!rule.requireSignature) return { origin, rule: rule.name, signer: null, signatureFormat: null };
    first ??= unsignedRefusal(rule, what, records.length);
  }
  throw first ?? new ImagePolicyRefusal(null, `${what} has no origin the image policy allows`);
}
