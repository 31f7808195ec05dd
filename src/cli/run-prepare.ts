/**
 * What `airlock run` prepares while its plan is being admitted: the runtime's driver, the image
 * that will run (resolved and held to the image policy again on its digest) and the denial
 * reporting. None of it starts a sandbox or grants anything, so it overlaps the store's opening and
 * the policy check instead of following them; each is awaited only once the plan was admitted, in
 * the order the run used to take them, so a refusal or an error reads as it did before.
 */
import type { AirlockConfig } from '../config/config.ts';
import type { IsolationDriver } from '../isolation/driver.ts';
import { loadDriver } from '../isolation/load-driver.ts';
import type { Image } from '../images/image.ts';
import { resolveImage, type ManifestStamps } from '../images/store.ts';
import { applyImagePolicy } from '../images/signatures/enforce.ts';
import type { RunPlan } from './run-options.ts';
import { openRunDenials, type RunDenialReporting } from './run-denials.ts';

/** A run's preparations, each settled on its own; `release` ends what they hold (idempotent). */
export interface RunPreparation {
  readonly driver: Promise<IsolationDriver>;
  /** The image the plan names, resolved once: admission's image check judges this digest. */
  readonly resolved: Promise<Image>;
  /** The same with the image policy applied: the image that runs. */
  readonly image: Promise<Image>;
  readonly denials: Promise<RunDenialReporting>;
  /** Stops the denial reader (once), whether the run was admitted or not. */
  release(): Promise<void>;
}

/**
 * Starts the preparations of `plan`; `stamps` are the manifests verified before (see
 * verified-manifests.ts), `resolved` the image as resolved for its defaults (run-image-defaults.ts),
 * reused when it is the plan's.
 */
export function prepareRun(plan: RunPlan, config: AirlockConfig, stamps: ManifestStamps, resolved?: { name: string; image: Promise<Image> }): RunPreparation {
  const driver = loadDriver(plan.runtime, config);
  const named = resolved?.name === plan.image ? resolved.image : resolveImage(config, plan.image, stamps);
  // The image policy again on the digest that runs (admission checked the name): it also gives the verified signer.
  const image = named.then((found) => applyImagePolicy(config, found));
  const denials = openRunDenials(config, plan.runtime);
  // Why: each is awaited (and its error reported) only after admission; a refused run must not end on an unhandled rejection.
  for (const pending of [driver, named, image, denials]) pending.catch(() => undefined);
  let released: Promise<void> | undefined;
  return {
    driver,
    resolved: named,
    image,
    denials,
    release: () => (released ??= denials.then((d) => d.close(), () => undefined)),
  };
}
