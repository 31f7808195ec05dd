/**
 * Host configuration: where state lives, the default image, and the limit defaults and maxima.
 * Loaded from the JSON file named by `--config`, `$AIRLOCK_CONFIG`, or `/etc/airlock/config.json`
 * when present; every field has a safe default, and unknown fields are an error (typos fail loudly).
 */
import { readFileSync, existsSync } from 'node:fs';
import { z } from 'zod';

const limitBounds = z
  .object({
    memoryMb: z.number().int().positive().describe('Memory limit in MiB.'),
    cpuCores: z.number().positive().describe('CPU quota in cores.'),
    pids: z.number().int().positive().describe('Maximum number of tasks.'),
    timeoutSeconds: z.number().positive().describe('Wall-clock limit in seconds.'),
    scratchMb: z.number().int().positive().describe('Size of the writable /tmp tmpfs in MiB.'),
    outputBytes: z.number().int().positive().describe('Cap on captured stdout+stderr bytes.'),
    openFiles: z.number().int().positive().describe('RLIMIT_NOFILE inside the sandbox.'),
  })
  .strict();

export const configSchema = z
  .object({
    stateDir: z.string().default('/var/lib/airlock').describe('Root-owned directory for images and sandbox state.'),
    runDir: z.string().default('/run/airlock').describe('Volatile per-sandbox state (bundles, uid leases).'),
    defaultImage: z.string().default('default').describe('Image used when a request names none.'),
    debianMirror: z.string().url().default('http://deb.debian.org/debian').describe('Mirror that `image build` fetches from.'),
    debianSuite: z.string().default('bookworm').describe('Debian suite of built images.'),
    cgroupParent: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]*$/)
      .default('airlock')
      .describe('Name of the cgroup under which every sandbox cgroup is created.'),
    hostUidBase: z
      .number()
      .int()
      .min(100_000)
      .default(1_500_000_000)
      .describe('First host uid handed to sandboxes; each live sandbox gets its own, never root.'),
    hostUidCount: z.number().int().min(16).max(1_000_000).default(65_536).describe('Size of the sandbox uid range.'),
    defaults: limitBounds.default({
      memoryMb: 512,
      cpuCores: 0.5,
      pids: 256,
      timeoutSeconds: 300,
      scratchMb: 64,
      outputBytes: 10 * 1024 * 1024,
      openFiles: 1024,
    }),
    maxima: limitBounds.default({
      memoryMb: 2048,
      cpuCores: 2,
      pids: 4096,
      timeoutSeconds: 600,
      scratchMb: 1024,
      outputBytes: 64 * 1024 * 1024,
      openFiles: 65_536,
    }),
  })
  .strict();

export type AirlockConfig = z.infer<typeof configSchema>;
export type LimitBounds = z.infer<typeof limitBounds>;

const DEFAULT_CONFIG_PATH = '/etc/airlock/config.json';

/** Reads and validates the configuration; a malformed file is an error naming the field. */
export function loadConfig(path?: string, env: NodeJS.ProcessEnv = process.env): AirlockConfig {
  const file = path ?? env['AIRLOCK_CONFIG'] ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined);
  let raw: unknown = {};
  if (file !== undefined) {
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`config ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`config ${file ?? '(defaults)'}: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  for (const key of Object.keys(parsed.data.defaults) as (keyof LimitBounds)[]) {
    if (parsed.data.defaults[key] > parsed.data.maxima[key]) {
      throw new Error(`config: defaults.${key} (${parsed.data.defaults[key]}) exceeds maxima.${key} (${parsed.data.maxima[key]})`);
    }
  }
  return parsed.data;
}
