/**
 * What `airlock doctor` says of the image policy: every trusted key loads, and the default image
 * passes (a policy that refuses it refuses every request that names no image).
 */
import type { AirlockConfig } from '../../config/config.ts';
import { imagePolicyActive } from '../../config/image-policy-config.ts';
import { resolveImage } from '../store.ts';
import { loadTrustedKey } from './keys.ts';
import { evaluateStoredImage } from './policy.ts';

/** The check's outcome: ok, and a line saying why. */
export async function imagePolicyHealth(config: Pick<AirlockConfig, 'stateDir' | 'imagePolicy' | 'defaultImage'>): Promise<{ ok: boolean; detail: string }> {
  const policy = config.imagePolicy;
  if (!imagePolicyActive(policy)) return { ok: true, detail: 'no rules: every image is allowed, unsigned (imagePolicy)' };
  try {
    for (const rule of policy.rules) for (const key of rule.keys) await loadTrustedKey(key);
  } catch (err) {
    return { ok: false, detail: `${(err as Error).message}: every image its rule covers would be refused` };
  }
  const rules = `${policy.rules.length} rule(s) (${policy.rules.map((r) => `${r.name}${r.requireSignature ? ' signed' : ''}`).join(', ')}), unmatched ${policy.unmatched}`;
  let image;
  try {
    image = await resolveImage(config, config.defaultImage);
  } catch {
    // The default image check says what is wrong with the image itself.
    return { ok: true, detail: `${rules}; default image not checked (it does not resolve)` };
  }
  try {
    const trust = await evaluateStoredImage(config, image);
    return { ok: true, detail: `${rules}; default image ${image.name} allowed${trust.signer === null ? '' : `, signed by ${trust.signer}`}` };
  } catch (err) {
    return { ok: false, detail: `${(err as Error).message}; sign it: airlock image sign ${config.defaultImage} --key KEY` };
  }
}
