/**
 * The image step of admission: the image a new sandbox (create, execute) would run is resolved
 * and checked against the image policy, so an image the policy refuses (origin not allowed, no
 * signature by a trusted key) is refused before anything is started, naming the rule.
 */
import type { AirlockConfig } from '../config/config.ts';
import { applyImagePolicy } from '../images/signatures/enforce.ts';
import { imagePolicyFailure } from '../images/signatures/policy.ts';
import { resolveImage } from '../images/store.ts';
import type { ImageCheck } from './admission.ts';
import { AdmissionRefusal } from './refusal.ts';

/** The image check of `config`'s policy: of the image as the front end resolved it, else of what the name resolves to now. */
export function imagePolicyStep(config: Pick<AirlockConfig, 'stateDir' | 'imagePolicy'>): ImageCheck {
  return async (image, given) => {
    let resolved = given;
    try {
      resolved ??= await resolveImage(config, image);
    } catch {
      // An unknown or broken image is not the policy's to judge: where it is resolved to run, it is refused naming why.
      return;
    }
    try {
      await applyImagePolicy(config, resolved);
    } catch (err) {
      throw new AdmissionRefusal('image', 'image_refused', imagePolicyFailure(err));
    }
  };
}
