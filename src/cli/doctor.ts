/** `airlock doctor`: what this host can run, and why not. Exit 1 when something this configuration needs can't run here (FAIL). */
import type { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import { terminalSafe, terminalSafeJson } from './terminal-text.ts';

/** Registers `doctor` on the program. */
export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('report which runtimes and kernel features this host offers')
    .option('--json', 'print the checks as JSON', false)
    .option('--reap', 'first release what sandboxes of crashed controllers left behind', false)
    .action(async (opts: { json: boolean; reap: boolean }) => {
      const { checkStatus, runChecks, reapStale } = await import('./doctor-checks.ts');
      const config = loadConfig(program.opts<{ config?: string }>().config);
      if (opts.reap) process.stderr.write(`reaped: ${terminalSafe((await reapStale(config)).join(', ') || 'nothing')}\n`);
      const checks = await runChecks(config);
      if (opts.json) {
        process.stdout.write(`${terminalSafeJson(checks.map((c) => ({ ...c, level: c.level ?? 'required', status: checkStatus(c).toLowerCase() })))}\n`);
      } else {
        const width = Math.max(...checks.map((c) => c.name.length));
        // Details quote host state (paths, tool output, reaped ids): escaped like everything the CLI formats.
        for (const c of checks) process.stdout.write(`${checkStatus(c).padEnd(4)}  ${c.name.padEnd(width)}  ${terminalSafe(c.detail)}\n`);
      }
      // Exit 1 only for what this configuration needs and this host can't give (FAIL); warn and info lines don't count.
      process.exitCode = checks.every((c) => checkStatus(c) !== 'FAIL') ? 0 : 1;
    });
}
