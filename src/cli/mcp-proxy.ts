/**
 * `airlock mcp-proxy [--host 127.0.0.1] [--port 8070] [--socket PATH] [--stdio] [--config FILE]`: the MCP security
 * proxy. Serves MCP over Streamable HTTP at /mcp (callers authenticated as by the control plane:
 * signed requests with the agent's key; on --socket, the peer's uid), or with --stdio over this
 * process's stdin/stdout for a
 * local client (the caller is the unix user running it). Fronts the servers in the configuration's
 * `mcp.servers`; on SIGTERM/SIGINT ends every session and server sandbox and exits.
 */
import type { Command } from 'commander';
import { isLoopbackAddress, parsePort } from './serve.ts';
import { UsageError } from './usage-error.ts';

interface RawOptions {
  host: string;
  socket?: string;
  port?: string;
  stdio: boolean;
  logLevel: string;
}

/** How long a session may stay without a request before it and its sandboxes end. */
const SESSION_IDLE_MS = 15 * 60_000;

/** Registers `mcp-proxy` on the program. */
export function registerMcpProxy(program: Command): void {
  program
    .command('mcp-proxy')
    .description('serve the MCP security proxy: sandboxed MCP servers behind server-side authorization, validation, approvals, pinning and scanning')
    .option('--host <address>', 'TCP address to listen on (loopback only: the proxy speaks plain HTTP)', '127.0.0.1')
    .option('--port <port>', 'TCP port (default: mcp.port of the configuration, 8070)')
    .option('--socket <path>', 'also listen on this unix socket (mode 0600); its callers are identified by their uid (auth.localUsers)')
    .option('--stdio', 'serve one local client on stdin/stdout instead of HTTP (the caller is the unix user running this)', false)
    .option('--log-level <level>', 'log level: fatal, error, warn, info, debug, trace', 'info')
    .addHelpText('after', '\nThe servers are configured under "mcp" in the configuration file (--config FILE, before or after "mcp-proxy").')
    .action(async (raw: RawOptions) => {
      if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(raw.logLevel)) throw new UsageError(`--log-level: unknown level "${raw.logLevel}"`);
      // Why loopback only: there is no TLS on this listener, and signatures don't hide the traffic.
      if (!raw.stdio && !isLoopbackAddress(raw.host)) throw new UsageError(`--host ${raw.host}: the MCP proxy listens on loopback only (plain HTTP); put a TLS terminator in front to serve other hosts`);
      const { loadConfig } = await import('../config/config.ts');
      const { createLogger } = await import('../observability/logger.ts');
      const config = loadConfig(program.opts<{ config?: string }>().config);
      const port = raw.port === undefined ? config.mcp.port : parsePort(raw.port);
      // With --stdio, stdout carries MCP: the log goes to stderr.
      const { logger } = createLogger({ level: raw.logLevel, ...(raw.stdio ? { destination: (await import('pino')).default.destination(2) } : {}) });
      const runtime = await (await import('./mcp-runtime.ts')).startMcpRuntime(config, logger);
      let stop: () => Promise<void>;
      if (raw.stdio) {
        const { StdioServerTransport } = await import('@modelcontextprotocol/sdk/server/stdio.js');
        const caller = await runtime.access.authenticator.authenticate({ kind: 'local-process', uid: process.getuid?.() ?? -1 });
        const session = runtime.proxy.openSession(caller);
        const transport = new StdioServerTransport();
        const closed = new Promise<void>((resolve) => (transport.onclose = () => resolve()));
        await session.server.connect(transport);
        process.stdin.once('end', () => void transport.close());
        stop = async () => {
          await runtime.proxy.closeSession(session);
        };
        logger.info({ caller: caller.name, servers: Object.keys(config.mcp.servers), policy_hash: await runtime.proxy.policyHash() }, 'airlock MCP proxy serving stdio');
        await Promise.race([closed, signalled()]);
      } else {
        const { startMcpHttp } = await import('../mcp/http.ts');
        const socket = raw.socket === undefined ? undefined : { path: raw.socket, peers: await (await import('../host/peer-credentials.ts')).PeerCredentialsReader.create(config) };
        const server = await startMcpHttp({ proxy: runtime.proxy, authenticator: runtime.access.authenticator, host: raw.host, port, allowedHosts: config.service.allowedHosts, sessionIdleMs: SESSION_IDLE_MS, socket });
        stop = () => server.close();
        logger.info({ url: server.url, socket: raw.socket ?? null, servers: Object.keys(config.mcp.servers), policy_hash: await runtime.proxy.policyHash() }, 'airlock MCP proxy listening');
        await signalled();
      }
      await stop();
      await runtime.close();
    });
}

/** Resolves on the first SIGTERM or SIGINT. */
function signalled(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
}
