/**
 * `airlock mcp-server [--url URL | --socket PATH] [--key FILE] [sandbox options]`: an MCP server on
 * stdio (for Claude Desktop, editors, agent frameworks) whose tools `run_code`, `exec`, `read_file`
 * and `write_file` run in one airlock sandbox, created on first use and killed on exit.
 */
import type { Command } from 'commander';
import { addServerOptions } from './server-flags.ts';
import { createRequestOf, type RawCreateOptions } from './sandbox-options.ts';

const collect = (value: string, previous: string[]) => [...previous, value];

/** Registers `mcp-server` on the program. */
export function registerMcpServer(program: Command): void {
  const command = program
    .command('mcp-server')
    .description('serve MCP on stdin/stdout: run_code, exec, read_file and write_file in one airlock sandbox (created on first use, killed on exit)');
  addServerOptions(command)
    .option('--runtime <name>', 'isolation runtime: namespace or gvisor (default namespace)')
    .option('--image <name>', "root filesystem image (default: the server's default image)")
    .option('--memory <mb>', 'memory limit in MiB')
    .option('--cpu <cores>', 'CPU limit in cores')
    .option('--timeout <s>', 'default wall-clock limit of each command, seconds')
    .option('--ttl <s>', 'lifetime of the sandbox in seconds (it ends then even if the client is still there)')
    .option('--env <KEY=VALUE>', 'environment variable of every command (repeatable)', collect, [])
    .option('--metadata <KEY=VALUE>', 'label returned with the sandbox (repeatable)', collect, [])
    .option('--network <mode>', 'network policy: none (default), restricted or full')
    .option('--allow <HOST[:PORT]>', 'allowlist entry for --network restricted (repeatable)', collect, [])
    .option('--service <name>', 'internal service reachable through the proxy (repeatable)', collect, [])
    .addHelpText('after', '\nExample client configuration: {"command": "airlock", "args": ["mcp-server"], "env": {"AIRLOCK_URL": "unix:///run/airlock/api.sock"}}')
    .action(async (raw: RawCreateOptions) => {
      // Checked before anything starts: a bad flag is a usage error (exit 2), not a failed tool call later.
      const request = createRequestOf(raw);
      const { connectionFromOptions } = await import('./server-connection.ts');
      const connection = await connectionFromOptions(raw);
      const { serveStdio } = await import('../mcp-server/server.ts');
      await serveStdio(connection.options, { ...request, metadata: { ...request.metadata, client: request.metadata?.['client'] ?? 'mcp-server' } });
    });
}
