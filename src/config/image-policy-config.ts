/**
 * Configuration of the image policy (`imagePolicy`): which image origins may be pulled, imported
 * and run, and which of them need a signature by a trusted key.
 *
 * An image's origin is `REGISTRY/REPOSITORY` for a pulled image (`docker.io/library/alpine`,
 * `registry.example.com:5000/team/app`) and `local/NAME` for one built or imported on this host.
 * Rules are tried in order; the first whose `match` globs cover the origin decides. With no rules
 * (the default) every image is allowed unsigned, as before the policy existed.
 */
import type { z as Zod } from 'zod';

/** A public key trusted to sign images: PEM (ECDSA P-256 or Ed25519), inline or in a file. */
export interface TrustedImageKey {
  /** Name recorded as the signer of images it verified (`image_signer`). */
  id: string;
  /** PEM text of the public key; exactly one of `pem` and `file`. */
  pem?: string | undefined;
  /** Absolute path of a PEM public key file, read when the policy is checked. */
  file?: string | undefined;
}

/** One rule of the image policy. */
export interface ImagePolicyRule {
  /** Named in every refusal this rule causes. */
  name: string;
  /** Globs over image origins (`*` within one path segment, `**` across segments). */
  match: string[];
  /** Whether images this rule covers need a signature by one of `keys`. */
  requireSignature: boolean;
  /** Keys whose signatures this rule accepts. */
  keys: TrustedImageKey[];
}

/** The image policy. */
export interface ImagePolicyConfig {
  rules: ImagePolicyRule[];
  /** What happens to an image no rule matches: `allow` (default) or `deny`. */
  unmatched: 'allow' | 'deny';
}

/** No rules, unmatched images allowed: every image runs unsigned, as before the policy existed. */
export const DEFAULT_IMAGE_POLICY_CONFIG: Readonly<ImagePolicyConfig> = Object.freeze({
  rules: Object.freeze([]) as unknown as ImagePolicyRule[],
  unmatched: 'allow',
});

/** Whether a policy can refuse anything or name a signer (no rules and unmatched images allowed: it can't). */
export function imagePolicyActive(policy: ImagePolicyConfig): boolean {
  return policy.rules.length > 0 || policy.unmatched === 'deny';
}

/** The zod schema of `imagePolicy`. */
export function imagePolicySchema(z: typeof Zod) {
  const key = z
    .object({
      id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'a short name such as release-2026').describe('Name recorded as the signer of images this key verified.'),
      pem: z.string().includes('-----BEGIN PUBLIC KEY-----', { message: 'a PEM public key (-----BEGIN PUBLIC KEY-----)' }).optional().describe('PEM public key (ECDSA P-256 or Ed25519).'),
      file: z.string().regex(/^\/./, 'an absolute path').optional().describe('Absolute path of a PEM public key file (ECDSA P-256 or Ed25519).'),
    })
    .strict()
    .refine((k) => (k.pem === undefined) !== (k.file === undefined), 'give exactly one of pem and file');
  const rule = z
    .object({
      name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a short name such as corp-registry').describe('Named in every refusal this rule causes.'),
      match: z
        .array(
          z
            .string()
            .regex(/^[a-z0-9*][A-Za-z0-9._:*/-]*$/, 'a glob over REGISTRY/REPOSITORY or local/NAME, e.g. ghcr.io/acme/**')
            // Why: a bare `**` or `*` covers every registry at once; say so with `**/**` rather than by accident.
            .refine((g) => g !== '*' && g !== '**', 'too broad: use "**/**" to match every origin on purpose'),
        )
        .min(1)
        .describe('Globs over image origins: REGISTRY/REPOSITORY for pulled images, local/NAME for built or imported ones.'),
      requireSignature: z.boolean().default(false).describe('Images this rule covers need a signature (cosign or `airlock image sign`) by one of keys.'),
      keys: z.array(key).default([]).describe('Public keys whose signatures this rule accepts.'),
    })
    .strict()
    // Why: a rule that requires a signature no key can give refuses everything it covers, silently by design.
    .refine((r) => !r.requireSignature || r.keys.length > 0, 'requireSignature needs at least one key');
  return z
    .object({
      rules: z.array(rule).default([]).describe('Rules tried in order; the first whose match covers an image\'s origin decides.'),
      unmatched: z.enum(['allow', 'deny']).default('allow').describe('What happens to an image no rule matches: allow (default) or deny.'),
    })
    .strict()
    .default({ rules: [], unmatched: 'allow' });
}
