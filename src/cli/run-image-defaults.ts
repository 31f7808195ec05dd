/**
 * An imported image's run configuration applied to `airlock run`: its environment under the
 * caller's `--env`, and, when no command is given, its entrypoint + cmd run in its workdir. The
 * image's user is never applied: sandboxes always run as the unprivileged sandbox user.
 */
import type { AirlockConfig } from '../config/config.ts';
import { defaultArgv, readRunConfig } from '../images/oci/run-config.ts';
import { resolveImage } from '../images/store.ts';
import { rememberedManifestStamps } from '../images/verified-manifests.ts';
import type { RawRunOptions } from './run-options.ts';

/** The workdir `airlock run` uses unless told otherwise (run.ts). */
const DEFAULT_WORKDIR = '/tmp';

/**
 * The command and options with the image's defaults applied. Unchanged for `--language` runs and
 * for images without a run configuration (built ones); an unknown image is left to the run's own
 * resolution, which names it.
 */
export async function withImageDefaults(command: string[], raw: RawRunOptions, config: AirlockConfig): Promise<{ command: string[]; raw: RawRunOptions }> {
  if (raw.language !== undefined) return { command, raw };
  let run;
  try {
    const image = await resolveImage(config, raw.image ?? config.defaultImage, await rememberedManifestStamps(config));
    run = await readRunConfig(image.rootfs);
  } catch {
    return { command, raw };
  }
  if (run === null) return { command, raw };
  // The caller's --env comes after the image's, so it wins for the same name.
  const withEnv: RawRunOptions = { ...raw, env: [...(run.env ?? []), ...raw.env] };
  if (command.length > 0) return { command, raw: withEnv };
  const argv = defaultArgv(run);
  if (argv.length === 0) return { command, raw: withEnv };
  return { command: argv, raw: { ...withEnv, workdir: raw.workdir === DEFAULT_WORKDIR && run.workdir !== undefined ? run.workdir : raw.workdir } };
}
