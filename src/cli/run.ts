/**
 * `airlock run [options] -- CMD ARGS…`: one command in a fresh sandbox, output streamed live,
 * sandbox torn down, exit code passed through. `--json` prints the execution result instead.
 * The implementation (run-command.ts) loads only when the command runs.
 */
import type { Command } from 'commander';
import type { RawRunOptions } from './run-options.ts';

const collect = (value: string, previous: string[]) => [...previous, value];

/** Registers `run` on the program. */
export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run one command in a fresh hardened sandbox')
    .argument('[command...]', 'command and arguments (after --)')
    .option('--runtime <name>', 'isolation runtime: namespace or gvisor', 'namespace')
    .option('--image <name>', 'root filesystem image (default: the configured default image)')
    .option('--memory <mb>', 'memory limit in MiB')
    .option('--cpu <cores>', 'CPU limit in cores')
    .option('--pids <n>', 'maximum number of processes')
    .option('--timeout <s>', 'wall-clock limit in seconds')
    .option('--scratch <mb>', 'size of the writable /tmp in MiB')
    .option('--env <KEY=VALUE>', 'environment variable (repeatable)', collect, [])
    .option('--secret <name>', 'give the sandbox this secret as the file /run/secrets/NAME (repeatable; never an environment variable)', collect, [])
    .option('--mount <HOST:SANDBOX[:ro|rw]>', 'grant a host path, read-only unless rw (repeatable)', collect, [])
    .option('--network <mode>', 'network policy: none (default), restricted (egress proxy + allowlist) or full (NAT, no private ranges)', 'none')
    .option('--allow <HOST[:PORT]>', 'allowlist entry for --network restricted: host, *.domain or IP, port 80/443 unless given (repeatable)', collect, [])
    .option('--service <name>', 'internal service the sandbox may call through the proxy (repeatable)', collect, [])
    .option('--workdir <dir>', 'working directory inside the sandbox', '/tmp')
    .option('--language <lang>', 'run code in python, javascript or bash (code from --code or stdin)')
    .option('--code <string>', 'code to run with --language')
    .option('--json', 'print the execution result as JSON instead of streaming', false)
    .option('--approval <id>', 'a signed approval of exactly this run (when policy requires one; exit 3 says so)')
    .action(async (command: string[], raw: RawRunOptions) => {
      const { runCommand } = await import('./run-command.ts');
      process.exitCode = await runCommand(command, raw, program.opts<{ config?: string }>().config);
    });
}

