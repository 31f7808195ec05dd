/**
 * A behavior contract: what one agent is expected to do, and nothing more. Every clause is
 * optional (absent: not narrowed) and a contract only narrows what policy allows. This zod schema
 * is the one source: policies/contract.schema.json is generated from it (`node
 * src/contracts/schema.ts --write`), and a test keeps the two equal.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { checkAllowEntry } from '../network/proxy/allowlist.ts';
import { SECRET_NAME_PATTERN, SECRET_NAME_RULE } from '../secrets/names.ts';

const HostEntry = z
  .string()
  .refine((v) => checkAllowEntry(v).ok, { error: (issue) => `not a host entry: ${(checkAllowEntry(String(issue.input)) as { reason?: string }).reason ?? 'invalid'}` })
  .describe('An allowlist entry: `host`, `host:port`, `*.domain` or an IP address, as network.allowed_hosts takes them.');
const HostPath = z
  .string()
  .regex(/^\/(?!.*(?:^|\/)\.\.?(?:\/|$))/, 'an absolute path without . or .. components')
  .describe('An absolute host path: the path itself and everything below it.');

/** The contract schema (strict: an unknown clause is refused, never ignored). */
export const ContractSchema = z
  .strictObject({
    $schema: z.string().optional().describe('The schema this file follows (ignored).'),
    description: z.string().max(1024).optional(),
    enforce: z.enum(['record', 'kill']).default('record').describe('At run time, an egress attempt outside the contract is a POLICY violation (`record`); with `kill` the sandbox is also killed.'),
    hosts: z.array(HostEntry).max(1024).optional().describe('Hosts it may reach (restricted network): its allowlist must stay within these.'),
    services: z.array(z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a service name')).max(256).optional().describe('Internal services (network.services) it may call.'),
    paths: z
      .strictObject({
        read: z.array(HostPath).max(256).default([]).describe('Host paths it may be granted read-only (write grants count as reads too).'),
        write: z.array(HostPath).max(256).default([]).describe('Host paths it may be granted writable.'),
      })
      .optional()
      .describe('Host paths it may read or write (filesystem_access).'),
    secrets: z.array(z.string().regex(SECRET_NAME_PATTERN, `a secret name: ${SECRET_NAME_RULE}`)).max(256).optional().describe('Secrets it may be given.'),
    limits: z
      .strictObject({
        memory_mb: z.number().int().positive().optional(),
        cpu: z.number().positive().optional(),
        pids: z.number().int().positive().optional(),
        timeout_seconds: z.number().int().positive().optional(),
      })
      .optional()
      .describe('Most it may ask for: memory (MiB), CPU cores, processes, timeout (seconds).'),
    runtimes: z.array(z.enum(['namespace', 'gvisor'])).min(1).optional().describe('Runtimes it may use (a floor: e.g. ["gvisor"]).'),
    network_modes: z.array(z.enum(['none', 'restricted', 'full'])).min(1).optional().describe('Network modes it may use.'),
  })
  .describe('A behavior contract of one agent (airlock contracts set AGENT FILE).');

export type Contract = z.infer<typeof ContractSchema>;

/** The JSON Schema shipped as policies/contract.schema.json. */
export function contractJsonSchema(): Record<string, unknown> {
  return { $id: 'https://airlock.dev/schemas/contract.schema.json', ...z.toJSONSchema(ContractSchema, { io: 'input', unrepresentable: 'any' }) };
}

/** Where the generated schema lives. */
export const CONTRACT_SCHEMA_PATH = fileURLToPath(new URL('../../policies/contract.schema.json', import.meta.url));

/** The file as committed: two-space JSON and a final newline. */
export function contractSchemaText(): string {
  return `${JSON.stringify(contractJsonSchema(), null, 2)}\n`;
}

/** A contract from parsed JSON; throws with every problem named by its path. */
export function parseContract(input: unknown): Contract {
  const parsed = ContractSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new Error(`invalid contract: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--write') {
  writeFileSync(CONTRACT_SCHEMA_PATH, contractSchemaText());
  process.stdout.write(`wrote ${CONTRACT_SCHEMA_PATH}\n`);
}
