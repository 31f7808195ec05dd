/**
 * An imported image's run configuration applied to request bodies before their fields are checked
 * and admitted (the rule, shared with `airlock run`, is src/images/oci/run-defaults.ts): the image's
 * environment under the request's `environment`, and its entrypoint + cmd (in its workdir, unless
 * the request names one) when the request names no command. Never the image's user.
 * One-shots get both; a persistent sandbox gets the environment when it is created (every exec
 * runs under it), and an exec that names no command gets the default command. `pinned` is the
 * image as the request resolved it (SandboxServiceApi.pinImage): the defaults come from the digest
 * that will run, whatever the name tags by then.
 */
import type { z } from 'zod';
import { withImageRunDefaults, type RunParts } from '../images/oci/run-defaults.ts';
import type { ImageRunConfig } from '../images/oci/types.ts';
import type { Image } from '../images/image.ts';
import type { SandboxServiceApi } from '../sandbox/service-types.ts';
import { ApiError } from './errors.ts';
import { ExecuteRequest } from './schemas.ts';
import { CreateSandboxRequest, ExecRequest } from './schemas-sandboxes.ts';

type Images = Pick<SandboxServiceApi, 'imageRunConfig'>;

/** A one-shot's body with its image's environment and, when it names no command, default command; unchanged for code runs. */
export async function withImageDefaults(service: Images, body: ExecuteRequest, pinned: Image | undefined): Promise<ExecuteRequest> {
  // Code (or a language) runs its interpreter, never the image's command.
  if (body.code !== undefined || body.language !== undefined) return body;
  const run = await service.imageRunConfig(pinned ?? body.image);
  if (run === null) return body;
  const image = body.image ?? 'the default image';
  const applied = applyTo(run, body, body.workdir);
  const merged: ExecuteRequest = { ...body, environment: envRecord(applied.env, image) };
  if (body.command === undefined && applied.command.length > 0) {
    merged.command = applied.command;
    if (applied.workdir !== undefined) merged.workdir = applied.workdir;
  }
  return recheck(ExecuteRequest, merged, image);
}

/** A persistent sandbox's create body with its image's environment under the request's (every exec runs under it). */
export async function withImageEnvironment(service: Images, body: CreateSandboxRequest, pinned: Image | undefined): Promise<CreateSandboxRequest> {
  const run = await service.imageRunConfig(pinned ?? body.image);
  if (run === null) return body;
  const image = body.image ?? 'the default image';
  return recheck(CreateSandboxRequest, { ...body, environment: envRecord(applyTo(run, body, undefined).env, image) }, image);
}

/**
 * An exec body that names no command (nor code) with the default command of the sandbox's image
 * (`imageDigest`: the image it runs, whatever its name now tags), in the image's workdir unless `cwd` is given.
 */
export async function withImageCommand(service: Images, imageDigest: string, body: ExecRequest): Promise<ExecRequest> {
  if (body.command !== undefined || body.code !== undefined || body.language !== undefined) return body;
  const run = await service.imageRunConfig(imageDigest);
  if (run === null) return body;
  const applied = applyTo(run, { environment: undefined, command: undefined }, body.cwd);
  if (applied.command.length === 0) return body;
  return recheck(ExecRequest, { ...body, command: applied.command, ...(applied.workdir === undefined ? {} : { cwd: applied.workdir }) }, imageDigest);
}

/** The shared rule on a body's command, environment and working directory. */
function applyTo(run: ImageRunConfig, body: { command?: string | string[] | undefined; environment?: Record<string, string> | undefined }, workdir: string | undefined): RunParts {
  const named = body.command === undefined ? [] : typeof body.command === 'string' ? [body.command] : body.command;
  const env = Object.entries(body.environment ?? {}).map(([key, value]) => `${key}=${value}`);
  return withImageRunDefaults(run, { command: named, env, workdir });
}

/** Why checked again: the image's environment and command are untrusted input, held to the request's own rules. */
function recheck<S extends z.ZodType>(schema: S, merged: z.infer<S>, image: string): z.infer<S> {
  const checked = schema.safeParse(merged);
  if (checked.success) return checked.data;
  throw new ApiError('invalid_request', `image ${image}: its run configuration breaks the request's rules: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
}

/** `KEY=VALUE` entries as a record, a later entry winning; an entry without a name is refused. */
function envRecord(entries: readonly string[], image: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new ApiError('invalid_request', `image ${image}: environment entry ${JSON.stringify(entry.slice(0, 64))} is not KEY=VALUE`);
    env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}
