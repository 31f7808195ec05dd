/**
 * Configuration of the MCP security proxy (`mcp`): the MCP servers it fronts, how each one runs
 * (a local stdio server inside an airlock sandbox, or a remote one by URL), the scanner's blocking
 * threshold and the size limits of what passes through. Default: no servers (the proxy fronts
 * nothing until an operator names one).
 */
import type { z as Zod } from 'zod';

/** Severities of scanner findings, lowest first (the threshold compares against this order). */
export const MCP_SEVERITIES = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type McpSeverity = (typeof MCP_SEVERITIES)[number];

/** What a server name may be: it becomes a Cedar attribute, a group name (`mcp.<name>`) and a metric label. */
export const MCP_SERVER_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** A host path bound into a local server's sandbox. */
export interface McpMount {
  hostPath: string;
  sandboxPath: string;
  writable: boolean;
}

/** An MCP server run by the proxy: a command speaking MCP on stdin/stdout, inside a sandbox. */
export interface McpLocalServer {
  /** Command and arguments inside the sandbox. */
  command: string[];
  runtime: 'namespace' | 'gvisor';
  /** Image name; null: the configured default image. */
  image: string | null;
  /** Limits of its sandbox (defaults fill the rest; the configured maxima hold). */
  limits: { memoryMb?: number | undefined; cpuCores?: number | undefined; pids?: number | undefined; scratchMb?: number | undefined; outputBytes?: number | undefined; openFiles?: number | undefined };
  network: { mode: 'none' | 'restricted' | 'full'; allowedHosts: string[] };
  /** Names of secrets it is given (files under /run/secrets). */
  secrets: string[];
  mounts: McpMount[];
  env: Record<string, string>;
  /** Working directory inside the sandbox. */
  cwd: string;
  /** One sandbox for every client session (true) or one per session (false, default). */
  share: boolean;
  allowSampling: boolean;
  allowElicitation: boolean;
}

/** An MCP server reached over Streamable HTTP. */
export interface McpRemoteServer {
  url: string;
  /** Connect even when its name resolves to an internal address (never cloud metadata). */
  allowPrivate: boolean;
  allowSampling: boolean;
  allowElicitation: boolean;
}

export type McpServerConfig = McpLocalServer | McpRemoteServer;

/** `mcp` as loaded. */
export interface McpConfig {
  /** Default port of `airlock mcp-proxy`. */
  port: number;
  servers: Record<string, McpServerConfig>;
  scan: {
    /** A finding at or above this severity in a tool's definition blocks that tool. */
    blockSeverity: McpSeverity;
    /** The scanner's rules file; null: the shipped one. */
    rulesFile: string | null;
  };
  limits: {
    /** Largest JSON-RPC message accepted from a client, bytes. */
    messageBytes: number;
    /** Largest `arguments` object of a tools/call (canonical JSON bytes). */
    argumentBytes: number;
    /** Deepest nesting of `arguments`. */
    argumentDepth: number;
    /** How long a call may wait for its server before it is answered with a timeout. */
    callTimeoutSeconds: number;
    /** How long a server's sandbox may take to start and answer initialize. */
    startTimeoutSeconds: number;
  };
}

/** Default: port 8070, no servers, HIGH blocks, 1 MiB messages, 64 KiB / depth 32 arguments. */
export const DEFAULT_MCP_CONFIG: Readonly<McpConfig> = Object.freeze({
  port: 8070,
  servers: {},
  scan: { blockSeverity: 'HIGH' as McpSeverity, rulesFile: null },
  limits: { messageBytes: 1024 * 1024, argumentBytes: 64 * 1024, argumentDepth: 32, callTimeoutSeconds: 60, startTimeoutSeconds: 30 },
});

/** True for a local (sandboxed stdio) server. */
export function isLocalServer(server: McpServerConfig): server is McpLocalServer {
  return 'command' in server;
}

/** The zod schema of `mcp`. */
export function mcpSchema(z: typeof Zod) {
  const d = DEFAULT_MCP_CONFIG;
  const absolute = z.string().regex(/^\/[^\0]*$/, 'an absolute path');
  const local = z
    .object({
      command: z.array(z.string().min(1)).min(1).describe('Command and arguments run inside the sandbox; it speaks MCP on stdin/stdout.'),
      runtime: z.enum(['namespace', 'gvisor']).default('namespace').describe('Isolation tier of its sandbox.'),
      image: z.string().min(1).nullable().default(null).describe('Image of its sandbox; null: the configured default image.'),
      limits: z
        .object({
          memoryMb: z.number().positive().optional(),
          cpuCores: z.number().positive().optional(),
          pids: z.number().int().positive().optional(),
          scratchMb: z.number().int().positive().optional(),
          outputBytes: z.number().int().positive().optional(),
          openFiles: z.number().int().positive().optional(),
        })
        .strict()
        .default({})
        .describe('Limits of its sandbox; the configured defaults fill the rest and the maxima hold. outputBytes caps all the server writes over its life.'),
      network: z
        .object({ mode: z.enum(['none', 'restricted', 'full']).default('none'), allowedHosts: z.array(z.string().min(1)).default([]) })
        .strict()
        .default({ mode: 'none', allowedHosts: [] })
        .describe('Egress of its sandbox. Default none (own empty network namespace).'),
      secrets: z.array(z.string().min(1)).default([]).describe('Secrets given to it as files under /run/secrets.'),
      mounts: z
        .array(z.object({ hostPath: absolute, sandboxPath: absolute, writable: z.boolean().default(false) }).strict())
        .default([])
        .describe('Host paths bound into its sandbox (read-only unless writable).'),
      env: z.record(z.string(), z.string()).default({}).describe('Environment of the command (the sandbox clears everything else).'),
      cwd: absolute.default('/tmp').describe('Working directory inside the sandbox.'),
      // Why per session by default: a shared server carries state (and anything planted in it) from one client to the next.
      share: z.boolean().default(false).describe('true: one sandbox serves every client session. false (default): one per session.'),
      allowSampling: z.boolean().default(false).describe('Let it ask the client for LLM sampling (default false: refused, a conversation-hijacking path).'),
      allowElicitation: z.boolean().default(false).describe('Let it ask the client\'s user for input (default false: refused).'),
    })
    .strict();
  const remote = z
    .object({
      url: z.string().url().refine((u) => /^https?:\/\//.test(u), 'an http(s) URL').describe('Streamable HTTP endpoint of the remote server.'),
      allowPrivate: z.boolean().default(false).describe('Connect even when the URL resolves to an internal or host address (default false, as sandbox egress). Cloud metadata is refused always.'),
      allowSampling: z.boolean().default(false),
      allowElicitation: z.boolean().default(false),
    })
    .strict();
  return z
    .object({
      port: z.number().int().min(0).max(65_535).default(d.port).describe('Default TCP port of `airlock mcp-proxy`.'),
      servers: z
        .record(z.string().regex(MCP_SERVER_NAME, 'a server name: lowercase letters, digits and -, starting with a letter'), z.union([local, remote]))
        .default({})
        .describe('The MCP servers the proxy fronts, by name. An agent reaches a server only as policy allows (default: members of group mcp.<name>).'),
      scan: z
        .object({
          blockSeverity: z.enum(MCP_SEVERITIES).default(d.scan.blockSeverity).describe('A definition finding at or above this severity blocks the tool.'),
          rulesFile: absolute.nullable().default(null).describe('Scanner rules file; null: the shipped one.'),
        })
        .strict()
        .default({ ...d.scan }),
      limits: z
        .object({
          messageBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(d.limits.messageBytes).describe('Largest JSON-RPC message a client may send, bytes.'),
          argumentBytes: z.number().int().min(2).max(16 * 1024 * 1024).default(d.limits.argumentBytes).describe('Largest tools/call arguments object, bytes of canonical JSON.'),
          argumentDepth: z.number().int().min(1).max(256).default(d.limits.argumentDepth).describe('Deepest nesting of a tools/call arguments object.'),
          callTimeoutSeconds: z.number().positive().max(3600).default(d.limits.callTimeoutSeconds).describe('A call its server has not answered by then is answered with a timeout error.'),
          startTimeoutSeconds: z.number().positive().max(600).default(d.limits.startTimeoutSeconds).describe('Time a server may take to start and answer initialize.'),
        })
        .strict()
        .default({ ...d.limits }),
    })
    .strict()
    .default({ port: d.port, servers: {}, scan: { ...d.scan }, limits: { ...d.limits } });
}
