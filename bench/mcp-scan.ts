/**
 * What the MCP scanner costs per call (CPU only, no proxy): scanning one tool definition and one
 * tools/call result, with the definitions and outputs taken from the fixture servers through the
 * SDK client, plus generated outputs of 64 KiB and 1 MiB (the scanner's bound). Microseconds per
 * call, p50/p99. The proxy's budget for everything it adds to a call is 2 ms at p50.
 * Run alone: node bench/mcp-scan.ts [n]
 */
import { loadScanner } from '../src/mcp/scan/index.ts';
import type { Scanner, ToolDefinition } from '../src/mcp/scan/index.ts';
import { FIXTURES } from '../test/mcp/fixtures/catalog.ts';
import { connectFixture } from '../test/mcp/fixtures/lib/client.ts';
import { fakeCredentials } from '../test/mcp/fixtures/lib/fake-credentials.ts';
import { summarize, type Summary } from './stats.ts';

/** One case: what was scanned and its per-call time, µs. */
export interface McpScanCase {
  subject: string;
  items: number;
  micros: Summary;
}

export interface McpScanBench {
  rulesVersion: string;
  cases: McpScanCase[];
}

/** Per-call times of `fn` over `items`, `n` rounds after one warm-up round, in µs. */
function time<T>(items: readonly T[], n: number, fn: (item: T) => unknown): Summary {
  for (const item of items) fn(item);
  const samples: number[] = [];
  for (let round = 0; round < n; round++) {
    for (const item of items) {
      const t0 = performance.now();
      fn(item);
      samples.push((performance.now() - t0) * 1000);
    }
  }
  return summarize(samples);
}

/** The fixture servers' definitions and probe outputs, through the SDK client. */
async function corpus(): Promise<{ benign: ToolDefinition[]; malicious: ToolDefinition[]; outputs: { benign: unknown[]; malicious: unknown[] } }> {
  const found = { benign: [] as ToolDefinition[], malicious: [] as ToolDefinition[], outputs: { benign: [] as unknown[], malicious: [] as unknown[] } };
  for (const fixture of FIXTURES.filter((candidate) => candidate.kind !== 'bad-input')) {
    const client = await connectFixture(fixture);
    try {
      const kind = fixture.kind === 'benign' ? 'benign' : 'malicious';
      for (const tool of (await client.listTools()).tools) {
        const definition: ToolDefinition = { server: fixture.name, name: tool.name, inputSchema: tool.inputSchema };
        if (tool.description !== undefined) definition.description = tool.description;
        if (tool.annotations !== undefined) definition.annotations = tool.annotations;
        found[kind].push(definition);
      }
      for (const call of [...(fixture.cleanCalls ?? []), ...(fixture.outputs ?? [])]) {
        found.outputs[kind].push(await client.callTool({ name: call.tool, arguments: call.arguments }));
      }
    } finally {
      await client.close();
    }
  }
  return found;
}

/** Runs every case `n` rounds. */
export async function benchMcpScan(n: number): Promise<McpScanBench> {
  const scanner: Scanner = await loadScanner();
  const { benign, malicious, outputs } = await corpus();
  const everyone = [...benign, ...malicious];
  const others = new Map(everyone.map((tool) => [tool.server, everyone.filter((other) => other.server !== tool.server)]));
  const line = 'The deploy finished; 14 files changed, 230 insertions, 12 deletions. See the log for details.\n';
  const secrets = fakeCredentials();
  const text = (bytes: number): unknown => ({ content: [{ type: 'text', text: `${line.repeat(Math.ceil(bytes / line.length)).slice(0, bytes - 200)}\n${secrets.githubToken}\n` }] });
  const definition = (tool: ToolDefinition) => scanner.definition(tool, others.get(tool.server) ?? []);
  const output = (content: unknown) => scanner.output('bench', 'tool', content);
  return {
    rulesVersion: scanner.rulesVersion,
    cases: [
      { subject: 'definition, benign fixtures', items: benign.length, micros: time(benign, n, definition) },
      { subject: 'definition, malicious fixtures', items: malicious.length, micros: time(malicious, n, definition) },
      { subject: 'output, benign fixture calls', items: outputs.benign.length, micros: time(outputs.benign, n, output) },
      { subject: 'output, malicious fixture calls', items: outputs.malicious.length, micros: time(outputs.malicious, n, output) },
      { subject: 'output, 64 KiB of text with one token', items: 1, micros: time([text(64 * 1024)], Math.min(n, 200), output) },
      { subject: 'output, 1 MiB of text with one token', items: 1, micros: time([text(1000 * 1024)], Math.min(n, 20), output) },
    ],
  };
}

/** The report lines. */
export function mcpScanLines(r: McpScanBench): string[] {
  const f = (x: number) => x.toFixed(0);
  return [`MCP scanner (rules ${r.rulesVersion.split('+')[0]}), µs per call p50 / p99 (min–max, samples):`, ...r.cases.map((c) => `- ${c.subject} (${c.items} items): ${f(c.micros.p50)} / ${f(c.micros.p99)} (${f(c.micros.min)}–${f(c.micros.max)}, n ${c.micros.n})`)];
}

if (import.meta.main) {
  const result = await benchMcpScan(Number(process.argv[2] ?? 200));
  process.stdout.write(`${mcpScanLines(result).join('\n')}\n`);
}
