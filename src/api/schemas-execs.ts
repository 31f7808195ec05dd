/**
 * Wire schemas of the commands running in a persistent sandbox (`/api/v1/sandboxes/{id}/execs`):
 * list them, kill one by its exec id. Same rules as `schemas.ts`: strict request objects, types
 * inferred, OpenAPI generated from these.
 */
import { z } from 'zod';
import type { RunningExec as ServiceRunningExec } from '../sandbox/service-types.ts';
import { SANDBOX_ID_PATTERN } from './schemas.ts';

export const RunningExec = z
  .object({
    exec_id: z.string().describe('The exec id (the x-airlock-exec-id of the exec that started it).'),
    command: z.array(z.string()).describe('Its argv, secret values redacted; for code, just the language.'),
    cwd: z.string(),
    started_at: z.string(),
  })
  .describe('A command running in the sandbox now.');

export const ExecList = z.object({ execs: z.array(RunningExec).describe('Oldest first.') });

export const ExecIdParams = z
  .object({
    id: z.string().regex(SANDBOX_ID_PATTERN, 'invalid sandbox id'),
    exec_id: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'must be an exec id, as x-airlock-exec-id gave it'),
  })
  .strict();

export const KilledExec = z.object({ exec_id: z.string() }).describe('The command was killed; it ends with termination_reason killed.');

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Compile-time proof that the wire schema matches the service's type. */
export type ExecSchemasMatch = Equals<z.infer<typeof RunningExec>, ServiceRunningExec> extends true ? true : never;
const execSchemasMatch: ExecSchemasMatch = true;
void execSchemasMatch;
