/**
 * Connections to the MCP servers the proxy fronts. A local server is a command run inside an
 * airlock sandbox of its own (runtime, limits, network, secrets and mounts from the proxy's
 * configuration), spoken to over its stdin/stdout through the sandbox agent; a remote one is a
 * Streamable HTTP endpoint. The sandbox ends when the connection is closed or the server exits.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ToolListChangedNotificationSchema, type JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
import type { McpLocalServer, McpServerConfig } from '../../config/mcp-config.ts';
import { isLocalServer } from '../../config/mcp-config.ts';
import type { ExecResult, SandboxServiceApi } from '../../sandbox/service-types.ts';
import { ExecTransport } from './exec-transport.ts';

/** A connected server. */
export interface Upstream {
  readonly name: string;
  readonly client: Client;
  /** The sandbox it runs in (local servers). */
  readonly sandboxId: string | undefined;
  /** Resolves when the connection has ended (closed, or the server exited), with why. */
  readonly ended: Promise<string>;
  /** Keeps its sandbox from the idle reaper (called on every request). */
  touch(): void;
  /** Closes the connection and ends the sandbox; resolves once it has ended. */
  close(): Promise<void>;
}

/** What connecting needs. */
export interface ConnectOptions {
  name: string;
  server: McpServerConfig;
  service: SandboxServiceApi;
  /** The tenancy id the sandbox is owned by (the calling agent; the controller's for a shared one). */
  owner: string;
  /** Idle lifetime of the sandbox, refreshed on every request. */
  ttlSeconds: number;
  maxMessageBytes: number;
  startTimeoutMs: number;
  /** Answers (or refuses) requests the server sends to the client: sampling, elicitation, roots. */
  onServerRequest: (request: JSONRPCRequest) => Promise<Record<string, unknown>>;
  onStderr?: ((chunk: Buffer) => void) | undefined;
  /** Told when the server says its tool list changed (other notifications are dropped). */
  onToolsChanged?: (() => void) | undefined;
}

/** Connects to a configured server; a sandbox started for it is ended if the connection fails. */
export async function connectUpstream(options: ConnectOptions): Promise<Upstream> {
  // Why no client capabilities: a server is told it may ask for nothing; what it asks anyway is
  // answered by onServerRequest (refused unless the configuration allows it).
  const client = new Client({ name: 'airlock-mcp-proxy', version: '1.0.0' }, { capabilities: {} });
  client.fallbackRequestHandler = async (request) => options.onServerRequest(request) as never;
  const { onToolsChanged } = options;
  if (onToolsChanged !== undefined) client.setNotificationHandler(ToolListChangedNotificationSchema, () => onToolsChanged());
  const { server } = options;
  if (!isLocalServer(server)) {
    const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
    const { guardedFetch } = await import('./remote-fetch.ts');
    // Why a guarded fetch: the proxy's own connection is held to the egress rules sandboxes get.
    const transport = new StreamableHTTPClientTransport(new URL(server.url), { fetch: guardedFetch(server.allowPrivate) });
    return connected(options, client, transport, undefined, async () => undefined);
  }
  const sandbox = await options.service.create({
    runtime: server.runtime,
    ...(server.image === null ? {} : { image: server.image }),
    limits: server.limits,
    ttlSeconds: options.ttlSeconds,
    metadata: { 'airlock/mcp-server': options.name },
    env: {},
    mounts: server.mounts,
    network: { mode: server.network.mode, allowedHosts: server.network.allowedHosts, services: [] },
    agentId: options.owner,
    secrets: server.secrets,
  });
  const id = sandbox.sandbox_id;
  const end = () => options.service.kill(id).then(() => undefined, () => undefined);
  try {
    const exec = await options.service.exec(id, { argv: server.command, env: server.env, cwd: server.cwd, stdin: true, timeoutMs: options.ttlSeconds * 1000 });
    let exit: ExecResult | undefined;
    const transport = new ExecTransport(exec, {
      maxMessageBytes: options.maxMessageBytes,
      onStderr: options.onStderr,
      onExit: (result) => {
        exit = result;
        // Why: a server that has exited leaves nothing in its sandbox worth keeping running.
        void end();
      },
    });
    return await connected(options, client, transport, id, end, () => exitText(server, exit));
  } catch (err) {
    await end();
    throw err;
  }
}

function exitText(server: McpLocalServer, exit: ExecResult | undefined): string {
  if (exit === undefined) return 'closed';
  return `${server.command[0] ?? 'server'} ended (${exit.termination_reason}, exit ${exit.exit_code ?? exit.signal ?? 'unknown'})`;
}

async function connected(
  options: ConnectOptions,
  client: Client,
  transport: Transport,
  sandboxId: string | undefined,
  end: () => Promise<void>,
  why: () => string = () => 'closed',
): Promise<Upstream> {
  let resolveEnded: (reason: string) => void = () => undefined;
  const ended = new Promise<string>((resolve) => (resolveEnded = resolve));
  client.onclose = () => {
    void end();
    resolveEnded(why());
  };
  const timeout = AbortSignal.timeout(options.startTimeoutMs);
  try {
    await client.connect(transport, { signal: timeout, timeout: options.startTimeoutMs });
  } catch (err) {
    await client.close().catch(() => undefined);
    throw new Error(`MCP server ${options.name} did not start: ${(err as Error).message}${sandboxId === undefined ? '' : ` (${why()})`}`, { cause: err });
  }
  let lastTouch = Date.now();
  return {
    name: options.name,
    client,
    sandboxId,
    ended,
    touch: () => {
      // At most once a second: refreshing the TTL is a registry write, not free on every call.
      if (sandboxId === undefined || Date.now() - lastTouch < 1000) return;
      lastTouch = Date.now();
      try {
        options.service.setTimeout(sandboxId, options.ttlSeconds);
      } catch {
        // An ended sandbox: the next request fails with server_unavailable.
      }
    },
    close: async () => {
      await client.close().catch(() => undefined);
      await end();
    },
  };
}
