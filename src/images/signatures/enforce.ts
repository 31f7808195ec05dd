/**
 * The image policy where an image is resolved to run (the service's starts, `airlock run`): the
 * image as resolved, with the signer that verified, or an ImagePolicyRefusal naming the rule.
 */
import type { AirlockConfig } from '../../config/config.ts';
import { imagePolicyActive } from '../../config/image-policy-config.ts';
import type { Image } from '../image.ts';

/**
 * Applies `config.imagePolicy` to a resolved image. With no rules and unmatched images allowed
 * (the default) it reads nothing: starts cost what they did before the policy existed.
 */
export async function applyImagePolicy(config: Pick<AirlockConfig, 'stateDir' | 'imagePolicy'>, image: Image): Promise<Image> {
  if (!imagePolicyActive(config.imagePolicy)) return { ...image, signer: null };
  // Loaded only when there is a policy: a plain `airlock run` doesn't pay for its modules.
  const { evaluateStoredImage } = await import('./policy.ts');
  const trust = await evaluateStoredImage(config, image);
  return { ...image, signer: trust.signer };
}
