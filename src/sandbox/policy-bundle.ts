/**
 * The active policy of this host and its hash, as `/health` and every result report it: everything
 * that decides what a sandbox may do, gathered into one document and hashed (src/sandbox/policy-hash.ts).
 * Operational settings that change no sandbox's powers (pool sizes, the network instance name) are
 * left out, so tuning them does not break clients that pin the hash.
 */
import type { AirlockConfig } from '../config/config.ts';
import { imagePolicyActive } from '../config/image-policy-config.ts';
import { NEVER_ITSELF } from '../isolation/grants/never-grantable.ts';
import { DEFAULT_PROFILE } from '../isolation/seccomp/index.ts';
import { policyHash } from './policy-hash.ts';
import { deniedHostPrefixes } from './request-rules.ts';

/** Names the document's shape: a change of shape changes every hash, never collides with an old one. */
export const POLICY_DOCUMENT_FORMAT = 'airlock-policy/1';

const BUNDLE_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;

/**
 * The document `policy_hash` is the hash of. `cedarBundleHash` is the Cedar bundle's own hash
 * (`PolicyEngine.hash`, or `readBundleHash` of the same directory: policies and schema).
 */
export function activePolicy(config: AirlockConfig, cedarBundleHash: string): Record<string, unknown> {
  // Why: a hash built over a wrong value (a path, an empty string) would vouch for a policy nobody checked.
  if (!BUNDLE_HASH_PATTERN.test(cedarBundleHash)) throw new TypeError(`not a Cedar bundle hash: ${cedarBundleHash.slice(0, 100)}`);
  // Why left out: the instance name only keeps controllers' host objects apart, and the pool of
  // ready namespaces only saves start-up time; neither changes what a sandbox may reach.
  const { instance: _instance, poolSize: _poolSize, ...network } = config.network;
  const { service } = config;
  return {
    format: POLICY_DOCUMENT_FORMAT,
    cedar: cedarBundleHash,
    seccomp: DEFAULT_PROFILE,
    limits: {
      defaults: config.defaults,
      maxima: config.maxima,
      ttlSeconds: { default: service.defaultTtlSeconds, max: service.maxTtlSeconds },
      execTimeoutSeconds: service.execTimeoutSeconds,
      fileMaxBytes: service.fileMaxBytes,
    },
    network,
    // Why the image policy: it decides which images may run at all. Only when it can refuse, so a
    // host without one keeps the hash it had before the policy existed.
    images: { defaultImage: config.defaultImage, ...(imagePolicyActive(config.imagePolicy) ? { policy: config.imagePolicy } : {}) },
    grants: { hostRoots: config.policy.hostRoots, deniedBelow: deniedHostPrefixes(config), deniedItself: NEVER_ITSELF },
  };
}

/**
 * `sha256:<hex>` of what decides a sandbox's powers here: the Cedar policies and schema (by their
 * bundle hash), the seccomp profile, limit defaults and maxima, the network configuration with its
 * services, the default image, the grant roots and the host paths never granted.
 */
export function activePolicyHash(config: AirlockConfig, cedarBundleHash: string): string {
  return policyHash(activePolicy(config, cedarBundleHash));
}
