/**
 * `airlock contracts set AGENT FILE | show AGENT | rm AGENT | suggest AGENT`: the behavior
 * contracts of agents (schema: policies/contract.schema.json). Writes the controller's store
 * directly (root on the controller host), like `principals`; admission reads the store on every
 * request, so a change holds from the next one.
 */
import type { Command } from 'commander';

/** Registers `contracts` and its subcommands on the program. */
export function registerContracts(program: Command): void {
  const contracts = program.command('contracts').description('Set, show, remove and suggest the behavior contracts of agents.');
  const actions = () => import('./contracts-actions.ts');
  const configPath = () => program.opts<{ config?: string }>().config;

  contracts
    .command('set')
    .description('set (or replace) the contract of an agent from a JSON file (- for stdin)')
    .argument('<agent>', 'agent id (tenancy id)')
    .argument('<file>', 'the contract, JSON (policies/contract.schema.json)')
    .action(async (agent: string, file: string) => (await actions()).setContract(configPath(), agent, file));
  contracts
    .command('show')
    .description('print the contract of an agent (JSON)')
    .argument('<agent>', 'agent id')
    .action(async (agent: string) => (await actions()).showContract(configPath(), agent));
  contracts
    .command('rm')
    .description('remove the contract of an agent')
    .argument('<agent>', 'agent id')
    .action(async (agent: string) => (await actions()).removeContract(configPath(), agent));
  contracts
    .command('suggest')
    .description("propose a contract from what the agent did in its recorded sandboxes (the audit log)")
    .argument('<agent>', 'agent id')
    .action(async (agent: string) => (await actions()).suggest(configPath(), agent));
}
