/**
 * `airlock mcp approve SERVER | pins [SERVER] | ls`: the operator's side of the MCP proxy.
 * `approve` starts the server in its sandbox, lists and scans its tools and pins each definition
 * (a later change is blocked until approved again); `pins` prints what is pinned; `ls` the
 * configured servers and whether they are approved. Run as root on the controller's host.
 */
import type { Command } from 'commander';
import { terminalSafe } from './terminal-text.ts';

interface JsonOption {
  json: boolean;
}

/** Registers `mcp` and its subcommands on the program. */
export function registerMcp(program: Command): void {
  const mcp = program.command('mcp').description('Approve and inspect the MCP servers the MCP proxy fronts.');

  mcp
    .command('approve')
    .description('start SERVER in its sandbox, scan its tools and pin their definitions (name, description, inputSchema, annotations)')
    .argument('<server>', 'server name (mcp.servers)')
    .option('--json', 'print the approved tools as JSON', false)
    .action(async (server: string, opts: JsonOption) => {
      const { loadConfig } = await import('../config/config.ts');
      const { createLogger } = await import('../observability/logger.ts');
      const config = loadConfig(program.opts<{ config?: string }>().config);
      const { logger } = createLogger({ level: 'warn', destination: (await import('pino')).default.destination(2) });
      const runtime = await (await import('./mcp-runtime.ts')).startMcpRuntime(config, logger);
      try {
        const operator = await runtime.access.authenticator.authenticate({ kind: 'local-process', uid: process.getuid?.() ?? -1 });
        // Why operators only: a pin is what lets a definition through; it is the operator's call.
        if (operator.role !== 'operator') throw new Error(`${operator.name} is a${operator.role === 'agent' ? 'n' : ''} ${operator.role}; only operators approve MCP servers`);
        const approved = await (await import('../mcp/approve.ts')).approveServer(runtime.proxy, server, operator, runtime.audit.log);
        if (opts.json) process.stdout.write(`${JSON.stringify({ server, tools: approved, policy_hash: await runtime.proxy.policyHash() }, null, 2)}\n`);
        else {
          for (const tool of approved) {
            process.stdout.write(`${terminalSafe(tool.name)}  ${tool.digest}${tool.replaced === null ? '' : `  (replaces ${tool.replaced})`}\n`);
            for (const f of tool.findings) process.stdout.write(`  ${f.severity} ${terminalSafe(f.rule)} in ${terminalSafe(f.where)}: ${terminalSafe(f.excerpt)}\n`);
          }
          process.stdout.write(`pinned ${approved.length} tool(s) of ${terminalSafe(server)}; policy hash ${await runtime.proxy.policyHash()}\n`);
          if (approved.some((t) => t.findings.length > 0)) process.stdout.write(`tools with findings at or above ${config.mcp.scan.blockSeverity} stay blocked (mcp.scan.blockSeverity)\n`);
        }
      } finally {
        await runtime.close();
      }
    });

  mcp
    .command('pins')
    .description('print the pinned tool definitions')
    .argument('[server]', 'only this server')
    .option('--json', 'print JSON', false)
    .action(async (server: string | undefined, opts: JsonOption) => {
      const { loadConfig } = await import('../config/config.ts');
      const { PinStore } = await import('../mcp/pins.ts');
      const config = loadConfig(program.opts<{ config?: string }>().config);
      const pins = await new PinStore(config.stateDir).read();
      const servers = Object.entries(pins.servers).filter(([name]) => server === undefined || name === server);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(Object.fromEntries(servers), null, 2)}\n`);
        return;
      }
      if (servers.length === 0) process.stdout.write(server === undefined ? 'no MCP server is approved\n' : `${terminalSafe(server)} is not approved\n`);
      for (const [name, p] of servers) {
        process.stdout.write(`${terminalSafe(name)}  approved ${p.approved_at} by ${terminalSafe(p.approved_by)}\n`);
        for (const [tool, digest] of Object.entries(p.tools)) process.stdout.write(`  ${terminalSafe(tool)}  ${digest}\n`);
      }
    });

  mcp
    .command('ls')
    .description('list the configured MCP servers and whether they are approved')
    .option('--json', 'print JSON', false)
    .action(async (opts: JsonOption) => {
      const { loadConfig } = await import('../config/config.ts');
      const { isLocalServer } = await import('../config/mcp-config.ts');
      const { PinStore } = await import('../mcp/pins.ts');
      const config = loadConfig(program.opts<{ config?: string }>().config);
      const pins = await new PinStore(config.stateDir).read();
      const rows = Object.entries(config.mcp.servers).map(([name, s]) => ({
        name,
        kind: isLocalServer(s) ? `${s.runtime}${s.share ? ', shared' : ''}` : 'remote',
        target: isLocalServer(s) ? s.command.join(' ') : s.url,
        approved_tools: Object.keys(pins.servers[name]?.tools ?? {}).length,
        approved_at: pins.servers[name]?.approved_at ?? null,
      }));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      if (rows.length === 0) process.stdout.write('no MCP servers configured (mcp.servers)\n');
      for (const r of rows) process.stdout.write(`${terminalSafe(r.name)}  ${r.kind}  ${terminalSafe(r.target)}  ${r.approved_at === null ? 'not approved' : `${r.approved_tools} tool(s) approved ${r.approved_at}`}\n`);
    });
}
