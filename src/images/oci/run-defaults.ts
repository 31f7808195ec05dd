/**
 * The one rule for an imported image's run configuration, shared by `airlock run` and the API's
 * one-shots: the image's environment goes under the caller's, and when the caller names no
 * command the image's entrypoint + cmd run in its workdir (unless the caller chose one). The
 * image's user is never applied: sandboxes always run as the unprivileged sandbox user.
 * Applied before admission, so policy decides on the command that will really run.
 */
import type { AirlockConfig } from '../../config/config.ts';
import { resolveImage, type ManifestStamps } from '../store.ts';
import { defaultArgv, readRunConfig } from './run-config.ts';
import type { ImageRunConfig } from './types.ts';
import type { Image } from '../image.ts';

/** The parts of a run an image's defaults fill in. */
export interface RunParts {
  /** argv; empty when the caller named none. */
  command: string[];
  /** `KEY=VALUE` entries in order; a later entry wins for the same name. */
  env: string[];
  /** The caller's working directory; undefined when it chose none. */
  workdir: string | undefined;
}

/**
 * The run configuration of image `name` (or of an image already resolved), or null when it has
 * none (a built image) or can't be resolved or read here: the run's own image resolution then
 * names the problem.
 */
export async function imageRunConfig(config: Pick<AirlockConfig, 'stateDir'>, image: string | Image, seen?: ManifestStamps): Promise<ImageRunConfig | null> {
  try {
    return await readRunConfig((typeof image === 'string' ? await resolveImage(config, image, seen) : image).rootfs);
  } catch {
    return null;
  }
}

/** `parts` with the image's defaults applied; unchanged for an image without a run configuration. */
export function withImageRunDefaults(run: ImageRunConfig | null, parts: RunParts): RunParts {
  if (run === null) return parts;
  // The caller's entries come after the image's, so they win for the same name.
  const env = [...(run.env ?? []), ...parts.env];
  const argv = parts.command.length > 0 ? [] : defaultArgv(run);
  if (argv.length === 0) return { ...parts, env };
  return { command: argv, env, workdir: parts.workdir ?? run.workdir };
}
