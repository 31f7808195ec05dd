/**
 * `airlock run [options] -- CMD ARGS…`: one command in a fresh sandbox, output streamed live,
 * sandbox torn down, exit code passed through. `--json` prints the execution result instead.
 * With a server named (`--url`, `--socket`; `AIRLOCK_URL`, `AIRLOCK_SOCKET` without `--config`) the run goes through it
 * (run-remote.ts); otherwise it runs in this process (run-command.ts). Each loads only when it runs.
 */
import type { Command } from 'commander';
import type { RawRunOptions } from './run-options.ts';
import { KEY_HELP } from './server-flags.ts';
import type { ServerOptions } from './server-connection.ts';
import { UsageError } from './usage-error.ts';

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
    .option('--url <url>', 'run it through the server at this URL (or unix:/path) instead of in this process (also $AIRLOCK_URL)')
    .option('--socket <path>', "run it through the server on this unix socket instead of in this process (also $AIRLOCK_SOCKET)")
    .option('--key <file>', KEY_HELP)
    .action(async (command: string[], raw: RawRunOptions & ServerOptions) => {
      const configPath = program.opts<{ config?: string }>().config;
      const { runsThroughServer, runThroughServer } = await import('./run-remote.ts');
      if (runsThroughServer(raw, configPath)) {
        // Why refuse: the server runs it under its own configuration; a --config here would be silently ignored.
        if (configPath !== undefined) throw new UsageError('--config: a run through a server uses the server\'s configuration; drop --config, or --url/--socket to run it in this process');
        process.exitCode = await runThroughServer(command, raw);
        return;
      }
      const { runCommand } = await import('./run-command.ts');
      process.exitCode = await runCommand(command, raw, configPath);
    });
}

