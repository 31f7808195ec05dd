/**
 * An imported image's run configuration applied to a one-shot's request body before its fields
 * are checked and admitted (the rule, shared with `airlock run`, is src/images/oci/run-defaults.ts):
 * the image's environment under the request's `environment`, and its entrypoint + cmd (in its
 * workdir, unless the request names one) when the request names no command. Never the image's user.
 */
import { withImageRunDefaults } from '../images/oci/run-defaults.ts';
import type { SandboxServiceApi } from '../sandbox/service-types.ts';
import { ApiError } from './errors.ts';
import { ExecuteRequest } from './schemas.ts';

/** `body` with its image's defaults; unchanged for code runs and for images without a run configuration. */
export async function withImageDefaults(service: Pick<SandboxServiceApi, 'imageRunConfig'>, body: ExecuteRequest): Promise<ExecuteRequest> {
  // Code (or a language) runs its interpreter, never the image's command.
  if (body.code !== undefined || body.language !== undefined) return body;
  const run = await service.imageRunConfig(body.image);
  if (run === null) return body;
  const named = body.command === undefined ? [] : typeof body.command === 'string' ? [body.command] : body.command;
  const env = Object.entries(body.environment ?? {}).map(([key, value]) => `${key}=${value}`);
  const applied = withImageRunDefaults(run, { command: named, env, workdir: body.workdir });
  const image = body.image ?? 'the default image';
  const merged: ExecuteRequest = { ...body, environment: envRecord(applied.env, image) };
  if (body.command === undefined && applied.command.length > 0) {
    merged.command = applied.command;
    if (applied.workdir !== undefined) merged.workdir = applied.workdir;
  }
  // Why checked again: the image's environment and command are untrusted input, held to the request's own rules.
  const checked = ExecuteRequest.safeParse(merged);
  if (!checked.success) {
    throw new ApiError('invalid_request', `image ${image}: its run configuration breaks the request's rules: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return checked.data;
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
