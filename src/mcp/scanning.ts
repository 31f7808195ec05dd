/**
 * The poisoning and injection scanner as the proxy uses it (src/mcp/scan/): tool definitions are
 * scanned when listed, tool outputs when returned (and redacted). Loading it is required: a proxy
 * that can't scan does not start (fail closed).
 */
import { loadScanner, severityRank, type ScanSeverity, type Scanner } from './scan/index.ts';

export type { ScanFinding, ScanSeverity, Scanner, ToolDefinition } from './scan/index.ts';
export { highestSeverity } from './scan/index.ts';

/** Loads the scanner with `rulesFile` (null: the shipped rules); throws naming why it can't. */
export async function loadProxyScanner(rulesFile: string | null): Promise<Scanner> {
  try {
    return await loadScanner(rulesFile ?? undefined);
  } catch (err) {
    throw new Error(`MCP scanner rules could not be loaded (${(err as Error).message}): the proxy does not run without them`, { cause: err });
  }
}

/** Whether `severity` is at or above `threshold`. */
export function atOrAbove(severity: ScanSeverity, threshold: ScanSeverity): boolean {
  return severityRank(severity) >= severityRank(threshold);
}
