/** The active policy bundle of this host and its hash, as `/health` and every result report it. */
import type { AirlockConfig } from '../config/config.ts';
import { DEFAULT_PROFILE } from '../isolation/seccomp/index.ts';
import { policyHash } from './policy-hash.ts';

/** Hash of what decides a sandbox's powers here: seccomp profile and limit defaults/maxima. */
export function activePolicyHash(config: AirlockConfig): string {
  return policyHash({ seccomp: DEFAULT_PROFILE, defaults: config.defaults, maxima: config.maxima });
}
