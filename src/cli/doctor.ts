/** `airlock doctor`: what this host can run, and why not. Exit 0 when the default runtime works. */
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
      const { runChecks, reapStale } = await import('./doctor-checks.ts');
      const config = loadConfig(program.opts<{ config?: string }>().config);
      if (opts.reap) process.stderr.write(`reaped: ${terminalSafe((await reapStale(config)).join(', ') || 'nothing')}\n`);
      const checks = await runChecks(config);
      if (opts.json) {
        process.stdout.write(`${terminalSafeJson(checks)}\n`);
      } else {
        const width = Math.max(...checks.map((c) => c.name.length));
        // Details quote host state (paths, tool output, reaped ids): escaped like everything the CLI formats.
        for (const c of checks) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(width)}  ${terminalSafe(c.detail)}\n`);
      }
      const essential = checks.filter((c) => c.name === 'runtime namespace' || c.name === 'default image');
      process.exitCode = essential.every((c) => c.ok) ? 0 : 1;
    });
}
