/**
 * `airlock forensics capture SANDBOX`: asks the running server to freeze a sandbox and write a
 * signed bundle (the admin action); prints the bundle's path. `airlock forensics verify BUNDLE
 * [--key CONTROLLER.pub]`: checks a bundle offline; exit 1 naming every changed, added or removed
 * entry or a bad signature.
 */
import type { Command } from 'commander';
import type { ApprovalFlags } from './approval-flags.ts';
import { APPROVAL_HELP, WAIT_HELP } from './approval-flags.ts';
import type { CommonOptions } from './sandbox-actions.ts';
import { KEY_HELP, SOCKET_HELP, URL_HELP } from './server-flags.ts';

const actions = () => import('./forensics-actions.ts');

/** Registers `forensics capture` and `forensics verify`. */
export function registerForensics(program: Command): void {
  const forensics = program.command('forensics').description('Signed forensic bundles of sandboxes: capture one, verify one.');
  forensics
    .command('capture')
    .description('freeze a running sandbox and write a signed bundle of it on the controller host; print its path')
    .argument('<sandbox>', 'sandbox id')
    .option('--url <url>', URL_HELP)
    .option('--socket <path>', SOCKET_HELP)
    .option('--key <file>', KEY_HELP)
    .option('--json', 'print the capture as JSON', false)
    .option('--approval <id>', APPROVAL_HELP)
    .option('--wait', WAIT_HELP, false)
    .action(async (id: string, opts: CommonOptions & ApprovalFlags) => {
      process.exitCode = await (await actions()).captureAction(id, opts);
    });
  forensics
    .command('verify')
    .description('check a bundle offline: every entry against the signed manifest; exit 1 naming what changed')
    .argument('<bundle>', 'the bundle (.zip)')
    .option('--key <file>', "the controller's public key (default: the configured controller key's .pub)")
    .option('--json', 'print the result as JSON', false)
    .action(async (bundle: string, opts: { key?: string; json: boolean }) => {
      process.exitCode = await (await actions()).verifyAction(program.opts<{ config?: string }>().config, bundle, opts);
    });
}
