/**
 * An imported image's run configuration applied to `airlock run` (the rule itself, shared with
 * the API, is src/images/oci/run-defaults.ts): its environment under the caller's `--env`, and,
 * when no command is given, its entrypoint + cmd run in its workdir.
 */
import type { AirlockConfig } from '../config/config.ts';
import type { Image } from '../images/image.ts';
import { imageRunConfig, withImageRunDefaults } from '../images/oci/run-defaults.ts';
import { resolveImage, type ManifestStamps } from '../images/store.ts';
import type { RawRunOptions } from './run-options.ts';

/** The workdir `airlock run` uses unless told otherwise (run.ts). */
const DEFAULT_WORKDIR = '/tmp';

/** The run with an image's defaults applied, and the resolution of the image they came from. */
export interface RunWithDefaults {
  command: string[];
  raw: RawRunOptions;
  /**
   * The image named, resolved (settled, possibly rejected: see run-prepare.ts, which reports it
   * once the run is admitted); absent for `--language` runs.
   */
  resolved?: { name: string; image: Promise<Image> };
}

/**
 * The command and options with the image's defaults applied. Unchanged for `--language` runs and
 * for images without a run configuration (built ones); an unknown image is left to the run's own
 * resolution, which names it. `stamps`: the manifests verified before (see verified-manifests.ts).
 */
export async function withImageDefaults(command: string[], raw: RawRunOptions, config: AirlockConfig, stamps: ManifestStamps): Promise<RunWithDefaults> {
  if (raw.language !== undefined) return { command, raw };
  const name = raw.image ?? config.defaultImage;
  const image = resolveImage(config, name, stamps);
  // Why one resolution: the defaults applied are those of the very digest that runs (a tag moved in between can't mix them).
  const run = await image.then((resolved) => imageRunConfig(config, resolved), () => null);
  const chosenWorkdir = raw.workdir === DEFAULT_WORKDIR ? undefined : raw.workdir;
  const applied = withImageRunDefaults(run, { command, env: raw.env, workdir: chosenWorkdir });
  return { command: applied.command, raw: { ...raw, env: applied.env, workdir: applied.workdir ?? raw.workdir }, resolved: { name, image } };
}
