/**
 * The poisoning and injection scanner as the proxy uses it (src/mcp/scan/ implements it): tool
 * definitions are scanned when listed, tool outputs when returned (and redacted). Loading it is
 * required: a proxy that can't scan does not start (fail closed).
 */
import type { McpSeverity } from '../config/mcp-config.ts';
import { MCP_SEVERITIES } from '../config/mcp-config.ts';

export type ScanSeverity = McpSeverity;

/** One finding of the scanner. */
export interface ScanFinding {
  rule: string;
  severity: ScanSeverity;
  where: string;
  excerpt: string;
  rationale: string;
}

/** A tool's definition as the scanner reads it. */
export interface ToolDefinition {
  server: string;
  name: string;
  description?: string;
  inputSchema?: unknown;
  annotations?: unknown;
}

/** The scanner's interface. */
export interface Scanner {
  /** Findings in one tool's definition; `others` are the other servers' tools (for shadowing). */
  definition(tool: ToolDefinition, others: readonly ToolDefinition[]): ScanFinding[];
  /** Findings in a tools/call result (or prompt/resource content), and that content with credential-shaped strings redacted. */
  output(server: string, tool: string, content: unknown): { findings: ScanFinding[]; redacted: unknown };
  /** Version of the rules file in force (part of policy_hash). */
  readonly rulesVersion: string;
}

/** Loads the scanner with `rulesFile` (null: the shipped rules); throws naming why it can't. */
export async function loadProxyScanner(rulesFile: string | null): Promise<Scanner> {
  // A variable specifier: the scanner module is built beside this one and loaded only by the proxy.
  const specifier = './scan/index.ts';
  let mod: { loadScanner: (rulesFile?: string) => Promise<Scanner> };
  try {
    mod = (await import(specifier)) as typeof mod;
  } catch (err) {
    throw new Error(`MCP scanner not available (${(err as Error).message}): the proxy does not run without it`, { cause: err });
  }
  return mod.loadScanner(rulesFile ?? undefined);
}

/** Whether `severity` is at or above `threshold`. */
export function atOrAbove(severity: ScanSeverity, threshold: ScanSeverity): boolean {
  return MCP_SEVERITIES.indexOf(severity) >= MCP_SEVERITIES.indexOf(threshold);
}
