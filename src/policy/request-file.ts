/**
 * Sample authorization requests as JSON (for `airlock policy check --request FILE`): one request or
 * an array of them. Unstated sandbox fields take the host's defaults, so a sample states only what
 * it is about; unknown fields are an error (a typo must not silently test something else).
 */
import { z } from 'zod';
import type { LimitBounds } from '../config/config.ts';
import { NETWORK_MODES } from '../network/policy.ts';
import { POLICY_ACTIONS, PRINCIPAL_ROLES, SECRET_ACTION } from './request.ts';
import type { PolicyRequest, PolicySettings, SandboxSpec } from './request.ts';

/** What fills the fields a sample leaves out. */
export interface RequestDefaults {
  settings: PolicySettings;
  runtime: string;
  limits: LimitBounds;
}

const specSchema = z
  .object({
    runtime: z.string().min(1).optional().describe('Runtime; default namespace.'),
    image: z.string().min(1).optional().describe('Image name; default the host default image.'),
    network: z
      .object({ mode: z.enum(NETWORK_MODES), allowedHosts: z.array(z.string()).default([]) })
      .strict()
      .optional()
      .describe('Network; default none.'),
    mounts: z
      .array(z.object({ hostPath: z.string().min(1), sandboxPath: z.string().min(1), writable: z.boolean().default(false) }).strict())
      .default([])
      .describe('Host grants.'),
    limits: z
      .object({
        memoryMb: z.number().positive(),
        cpuCores: z.number().positive(),
        pids: z.number().int().positive(),
        timeoutSeconds: z.number().positive(),
        scratchMb: z.number().int().positive(),
        outputBytes: z.number().int().positive(),
        openFiles: z.number().int().positive(),
      })
      .strict()
      .partial()
      .default({})
      .describe('Limits; unstated ones take the host defaults.'),
    secrets: z.array(z.string().min(1)).optional().describe('Names of the secrets the sandbox is given.'),
  })
  .strict();

const requestSchema = z
  .object({
    principal: z
      .object({ role: z.enum(PRINCIPAL_ROLES), id: z.string().min(1), groups: z.array(z.string()).default([]) })
      .strict()
      .describe('Who asks.'),
    action: z.enum([...POLICY_ACTIONS, SECRET_ACTION]),
    secret: z.string().min(1).optional().describe(`For ${SECRET_ACTION}: the secret's name.`),
    sandbox: z
      .object({ id: z.string().min(1).default('new'), owner: z.string().min(1).optional(), spec: specSchema.default({ mounts: [], limits: {} }) })
      .strict()
      .optional()
      .describe('The sandbox acted on; default a new one owned by the principal.'),
    request: specSchema.optional().describe('The spec once the action is done (network.change); default the sandbox spec.'),
    approved: z.boolean().default(false),
    settings: z
      .object({ defaultImage: z.string().min(1).optional(), hostRoots: z.array(z.string()).optional() })
      .strict()
      .optional()
      .describe('Host settings; default the configuration.'),
  })
  .strict()
  .refine((r) => (r.action === SECRET_ACTION) === (r.secret !== undefined), { path: ['secret'], message: `a secret is named with action ${SECRET_ACTION}, and only then` });

type SpecInput = z.infer<typeof specSchema>;

function fillSpec(spec: SpecInput, defaults: RequestDefaults): SandboxSpec {
  return {
    runtime: spec.runtime ?? defaults.runtime,
    image: spec.image ?? defaults.settings.defaultImage,
    network: spec.network ?? { mode: 'none', allowedHosts: [] },
    mounts: spec.mounts,
    limits: { ...defaults.limits, ...Object.fromEntries(Object.entries(spec.limits).filter(([, v]) => v !== undefined)) },
    ...(spec.secrets === undefined ? {} : { secrets: spec.secrets }),
  };
}

/** Parses a request file's JSON value into requests; throws listing every invalid field. */
export function parseRequestFile(raw: unknown, defaults: RequestDefaults, source: string): PolicyRequest[] {
  // One schema or the other, chosen by shape: a union's error would not say which field is wrong.
  const parsed = (Array.isArray(raw) ? z.array(requestSchema).min(1) : requestSchema).safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`request file ${source}:\n${lines.join('\n')}`);
  }
  const items = Array.isArray(parsed.data) ? parsed.data : [parsed.data];
  return items.map((r) => {
    const settings: PolicySettings = { defaultImage: r.settings?.defaultImage ?? defaults.settings.defaultImage, hostRoots: r.settings?.hostRoots ?? defaults.settings.hostRoots };
    const filled = { ...defaults, settings };
    const sandbox = r.sandbox ?? { id: 'new', spec: { mounts: [], limits: {} } };
    return {
      principal: r.principal,
      action: r.action,
      ...(r.secret === undefined ? {} : { secret: r.secret }),
      ...(r.action === 'admin' ? {} : { sandbox: { id: sandbox.id, owner: sandbox.owner ?? r.principal.id, spec: fillSpec(sandbox.spec, filled) } }),
      ...(r.request === undefined ? {} : { request: fillSpec(r.request, filled) }),
      approved: r.approved,
      settings,
    };
  });
}
