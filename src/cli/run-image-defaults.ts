/**
 * An imported image's run configuration applied to `airlock run` (the rule itself, shared with
 * the API, is src/images/oci/run-defaults.ts): its environment under the caller's `--env`, and,
 * when no command is given, its entrypoint + cmd run in its workdir.
 */
import type { AirlockConfig } from '../config/config.ts';
import { imageRunConfig, withImageRunDefaults } from '../images/oci/run-defaults.ts';
import type { ManifestStamps } from '../images/store.ts';
import type { RawRunOptions } from './run-options.ts';

/** The workdir `airlock run` uses unless told otherwise (run.ts). */
const DEFAULT_WORKDIR = '/tmp';

/**
 * The command and options with the image's defaults applied. Unchanged for `--language` runs and
 * for images without a run configuration (built ones); an unknown image is left to the run's own
 * resolution, which names it. `stamps`: the manifests verified before (see verified-manifests.ts).
 */
export async function withImageDefaults(command: string[], raw: RawRunOptions, config: AirlockConfig, stamps: ManifestStamps): Promise<{ command: string[]; raw: RawRunOptions }> {
  if (raw.language !== undefined) return { command, raw };
  const run = await imageRunConfig(config, raw.image ?? config.defaultImage, stamps);
  const chosenWorkdir = raw.workdir === DEFAULT_WORKDIR ? undefined : raw.workdir;
  const applied = withImageRunDefaults(run, { command, env: raw.env, workdir: chosenWorkdir });
  return { command: applied.command, raw: { ...raw, env: applied.env, workdir: applied.workdir ?? raw.workdir } };
}
