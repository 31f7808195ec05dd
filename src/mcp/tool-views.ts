/**
 * What the proxy makes of a server's tools/list: for each tool its definition digest, whether it
 * is pinned with that digest, what the scanner found in it, and the Cedar item policies decide on.
 * A tool that is unpinned, changed since its pin, or flagged at or above the threshold is blocked.
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { McpItem } from '../policy/request.ts';
import type { PinFile } from './pins.ts';
import { definitionDigest } from './pins.ts';
import type { McpRefusalCode } from './refusal.ts';
import type { ScanFinding, ScanSeverity, Scanner, ToolDefinition } from './scanning.ts';
import { atOrAbove } from './scanning.ts';

/** Separator between server and tool in the names the proxy lists (server names contain no `_`). */
export const NAME_SEPARATOR = '__';

/** One upstream tool as the proxy sees it. */
export interface ToolView {
  server: string;
  tool: Tool;
  digest: string;
  item: McpItem;
  findings: ScanFinding[];
  /** Why it is blocked; undefined when it may be offered. */
  blocked: { code: Extract<McpRefusalCode, 'definition_unpinned' | 'definition_changed' | 'definition_flagged'>; reason: string } | undefined;
}

/** The name the proxy lists for `tool` of `server`. */
export function proxiedName(server: string, tool: string): string {
  return `${server}${NAME_SEPARATOR}${tool}`;
}

/** Server and tool of a listed name; undefined for a name of no form the proxy lists. */
export function splitName(name: string): { server: string; tool: string } | undefined {
  const at = name.indexOf(NAME_SEPARATOR);
  if (at <= 0) return undefined;
  return { server: name.slice(0, at), tool: name.slice(at + NAME_SEPARATOR.length) };
}

/** The scanner's view of a listed tool. */
export function scannedDefinition(server: string, tool: Tool): ToolDefinition {
  return {
    server,
    name: tool.name,
    ...(tool.description === undefined ? {} : { description: tool.description }),
    inputSchema: tool.inputSchema,
    ...(tool.annotations === undefined ? {} : { annotations: tool.annotations }),
  };
}

/**
 * Views of `tools` of `server`, given the pins, the scanner and the other servers' definitions
 * (for shadowing). Pure: recording what is blocked is the caller's.
 */
export function toolViews(server: string, tools: readonly Tool[], pins: PinFile, scanner: Scanner, others: readonly ToolDefinition[], threshold: ScanSeverity): ToolView[] {
  const pinned = pins.servers[server]?.tools ?? {};
  return tools.map((tool) => {
    const digest = definitionDigest(tool);
    const findings = scanner.definition(scannedDefinition(server, tool), others);
    const annotations = tool.annotations ?? {};
    const item: McpItem = { server, name: tool.name, kind: 'tool', destructive: annotations.destructiveHint === true, readOnly: annotations.readOnlyHint === true };
    const pin = pinned[tool.name];
    const blocking = findings.filter((f) => atOrAbove(f.severity, threshold));
    let blocked: ToolView['blocked'];
    // Why the pin first: an unapproved or changed definition is refused whatever the scanner says.
    if (pin === undefined) blocked = { code: 'definition_unpinned', reason: `${server}/${tool.name} has no approved definition` };
    else if (pin !== digest) blocked = { code: 'definition_changed', reason: `${server}/${tool.name} was approved as ${pin}, it is now ${digest}` };
    else if (blocking.length > 0) blocked = { code: 'definition_flagged', reason: blocking.map((f) => `${f.rule} (${f.severity}) in ${f.where}`).join('; ') };
    return { server, tool, digest, item, findings, blocked };
  });
}
