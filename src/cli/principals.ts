/**
 * `airlock principals add|add-key|ls|show|revoke-key`: who may sign requests to the control plane.
 * Writes the controller's store directly (root on the controller host), like `image build` writes images.
 */
import type { Command } from 'commander';
import { PRINCIPAL_ROLES } from '../policy/request.ts';

const collect = (value: string, previous: string[]) => [...previous, value];

/** Options of `principals add`. */
export interface AddPrincipalOptions {
  role: string;
  agentId?: string;
  group: string[];
  key: string;
}

/** Registers `principals` and its subcommands on the program. */
export function registerPrincipals(program: Command): void {
  const principals = program.command('principals').description('Register and revoke the principals (and their Ed25519 keys) that may call the control plane.');
  // Why lazily: opening SQLite and parsing keys is work no other command needs.
  const actions = () => import('./principals-actions.ts');
  const configPath = () => program.opts<{ config?: string }>().config;

  principals
    .command('add')
    .description('register a principal with its first public key (as written by `airlock keys gen`)')
    .argument('<name>', 'unique name; also its id in policies')
    .requiredOption('--role <role>', `one of ${PRINCIPAL_ROLES.join(', ')}`)
    .option('--agent-id <id>', 'tenancy id, the owner of its sandboxes (default: the name)')
    .option('--group <group>', 'group policies may decide on (repeatable)', collect, [])
    .requiredOption('--key <file>', 'SPKI PEM public key file (PREFIX.pub)')
    .action(async (name: string, opts: AddPrincipalOptions) => (await actions()).addPrincipal(configPath(), name, opts));

  principals
    .command('add-key')
    .description('add another public key to a principal (key rotation)')
    .argument('<name>', 'the principal')
    .requiredOption('--key <file>', 'SPKI PEM public key file (PREFIX.pub)')
    .action(async (name: string, opts: { key: string }) => (await actions()).addKey(configPath(), name, opts.key));

  principals
    .command('ls')
    .description('list principals')
    .option('--json', 'print JSON', false)
    .action(async (opts: { json: boolean }) => (await actions()).listPrincipals(configPath(), opts.json));

  principals
    .command('show')
    .description('show a principal and all its keys, revoked ones included')
    .argument('<name>', 'the principal')
    .option('--json', 'print JSON', false)
    .action(async (name: string, opts: { json: boolean }) => (await actions()).showPrincipal(configPath(), name, opts.json));

  principals
    .command('revoke-key')
    .description('revoke a key for good: requests it signs are refused from now on')
    .argument('<keyid>', 'the key id (RFC 7638 thumbprint) printed by `airlock keys gen`')
    // A key id is base64url and begins with '-' one time in 64: taken as the id, not as an unknown option.
    .allowUnknownOption()
    .action(async (keyId: string) => (await actions()).revokeKey(configPath(), keyId));
}
