/**
 * What `airlock mcp-server` costs: its first tool call (which creates the session's sandbox), and
 * what it adds to a command: the same `sh -c true` run in the same sandbox through the MCP server's
 * `exec` tool (MCP SDK client → stdio → mcp-server → SDK → HTTP API) and directly with the SDK
 * (`execCollected`), alternately so drift hits both. The server is the real app and sandbox service
 * on loopback, in the tests' isolated configuration.
 */
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AirlockClient } from '../sdk/client.ts';
import { startRealServer } from '../sdk/testing/server.ts';
import { summarize, timePaired, type Summary } from './stats.ts';

export interface McpServerBench {
  n: number;
  /** From spawning `airlock mcp-server` to its first `exec` result (Node start-up, handshake, sandbox creation). */
  firstCallMs: number;
  /** `exec` of `sh -c true` through the MCP server. */
  mcp: Summary;
  /** The same command with the SDK directly. */
  sdk: Summary;
  /** mcp − sdk, pair by pair. */
  added: Summary;
}

/** One first call, then `n` alternating pairs after a warm-up of 10 each. */
export async function benchMcpServer(n: number): Promise<McpServerBench> {
  const server = await startRealServer();
  try {
    const started = performance.now();
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [join(import.meta.dirname, '../bin/airlock.js'), 'mcp-server'],
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', AIRLOCK_URL: server.url },
      stderr: 'ignore',
    });
    const client = new Client({ name: 'airlock-bench', version: '1.0.0' });
    await client.connect(transport);
    try {
      const exec = async (): Promise<CallToolResult> => {
        const result = (await client.callTool({ name: 'exec', arguments: { command: 'true' } })) as CallToolResult;
        if (result.isError === true) throw new Error(`exec through mcp-server failed: ${JSON.stringify(result.content)}`);
        return result;
      };
      const first = await exec();
      const firstCallMs = performance.now() - started;
      const sandboxId = (first.structuredContent as { sandbox_id: string }).sandbox_id;
      const sdk = new AirlockClient({ baseUrl: server.url });
      const [m, d] = await timePaired(
        n,
        10,
        async () => void (await exec()),
        async () => {
          const r = await sdk.execCollected(sandboxId, { command: ['sh', '-c', 'true'] });
          if (r.exit_code !== 0) throw new Error(`exec through the SDK failed: ${JSON.stringify(r)}`);
        },
      );
      return { n, firstCallMs, mcp: summarize(m), sdk: summarize(d), added: summarize(m.map((x, i) => x - (d[i] as number))) };
    } finally {
      await client.close();
    }
  } finally {
    await server.close();
  }
}

/** The Markdown lines of the result. */
export function mcpServerLines(b: McpServerBench): string[] {
  const f = (x: number) => x.toFixed(2);
  const s = (x: Summary) => `p50 ${f(x.p50)} / p95 ${f(x.p95)} ms`;
  return [
    `airlock mcp-server: first tool call ${f(b.firstCallMs)} ms from spawn (Node start-up, MCP handshake, sandbox creation); exec of sh -c true, n ${b.n}: through the MCP server ${s(b.mcp)}; with the SDK directly ${s(b.sdk)}; added per pair ${s(b.added)}`,
  ];
}
