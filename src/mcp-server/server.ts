/**
 * `airlock mcp-server`: an MCP server on stdio whose tools (`run_code`, `exec`, `read_file`,
 * `write_file`) run in one airlock sandbox, reached through the SDK — any airlock server the
 * connection names (`AIRLOCK_URL`, `AIRLOCK_KEY`, or the CLI's `--url/--socket/--key`). The
 * sandbox is created on the first tool call and killed when the client goes away.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { AirlockClient } from '../../sdk/client.ts';
import type { ConnectionOptions } from '../../sdk/http.ts';
import { SandboxSession, type SessionSandboxOptions } from './session.ts';
import { registerSandboxTools } from './tools.ts';

/** The server's name and version in the MCP handshake. */
export const SERVER_INFO = { name: 'airlock', version: '0.1.0' } as const;

/** An MCP server and the sandbox session behind its tools. */
export interface SandboxMcpServer {
  server: McpServer;
  session: SandboxSession;
}

/** An MCP server whose tools work in one lazily created sandbox of the server `connection` names. */
export function createSandboxMcpServer(connection: ConnectionOptions, sandbox: SessionSandboxOptions = {}): SandboxMcpServer {
  const session = new SandboxSession(new AirlockClient(connection), sandbox);
  const server = new McpServer(SERVER_INFO, {
    instructions: 'Tools that run code and commands, and read and write files, in one isolated airlock sandbox kept for this session.',
  });
  registerSandboxTools(server, session);
  return { server, session };
}

/**
 * Serves MCP on this process's stdin/stdout until the client closes stdin or SIGINT/SIGTERM
 * arrives, then kills the session's sandbox. Diagnostics go to stderr (stdout carries MCP).
 */
export async function serveStdio(connection: ConnectionOptions, sandbox: SessionSandboxOptions = {}): Promise<void> {
  const { server, session } = createSandboxMcpServer(connection, sandbox);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => (transport.onclose = () => resolve()));
  await server.connect(transport);
  process.stdin.once('end', () => void transport.close());
  const signals = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await Promise.race([closed, signals]);
  try {
    await session.close();
  } finally {
    await server.close().catch(() => undefined);
  }
}
