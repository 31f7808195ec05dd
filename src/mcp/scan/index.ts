/**
 * The MCP poisoning and injection scanner. It reads tool definitions (description, input schema,
 * annotations) and tool outputs against a versioned rules file (policies/mcp-scan-rules.json) and
 * reports findings with a severity; outputs come back with credential-shaped strings redacted.
 * It is a heuristic layer in front of the model, not a boundary: the sandbox and the proxy's
 * authorization are the controls; this catches the known shapes of poisoning early.
 */
import { RuleMatcher, prepare } from './match.ts';
import type { ScanFinding } from './match.ts';
import { redactText } from './redact.ts';
import { loadRules } from './rules.ts';
import type { CompiledRules, ScanLimits } from './rules.ts';
import { collisions, indexOthers, references } from './shadowing.ts';
import type { OtherTools } from './shadowing.ts';
import { normalise } from './text.ts';
import { child, emptyWalk, isBinaryPayload, walk } from './walk.ts';
import type { Walked } from './walk.ts';

export type { ScanSeverity } from './severity.ts';
export { SCAN_SEVERITIES, highestSeverity, severityRank } from './severity.ts';
export type { ScanFinding } from './match.ts';
export { DEFAULT_RULES_FILE, RULES_SCHEMA, compileRules } from './rules.ts';

/** A tool's definition as the scanner reads it. */
export interface ToolDefinition {
  server: string;
  name: string;
  description?: string;
  inputSchema?: unknown;
  annotations?: unknown;
}

/** The scanner's interface (what the MCP proxy calls). */
export interface Scanner {
  /** Findings in one tool's definition; `others` are the other servers' tools (for shadowing). */
  definition(tool: ToolDefinition, others: readonly ToolDefinition[]): ScanFinding[];
  /** Findings in a tools/call result (or prompt/resource content), and that content with credential-shaped strings redacted. */
  output(server: string, tool: string, content: unknown): { findings: ScanFinding[]; redacted: unknown };
  /** Version of the rules file in force (part of policy_hash). */
  readonly rulesVersion: string;
}

/** The rule id of the finding that reports content past the scanner's bounds. */
export const OVER_LIMIT_RULE = 'scan-limits';

/** The finding for content past the bounds: blocked rather than passed on unscanned. */
function overLimit(walked: Walked, limits: ScanLimits): ScanFinding[] {
  if (walked.overLimit === null) return [];
  return [{
    rule: OVER_LIMIT_RULE,
    severity: limits.overLimitSeverity,
    where: walked.overLimit,
    excerpt: '',
    rationale: `Content exceeds the scanner's bounds (${limits.maxTotalChars} characters, ${limits.maxStrings} strings, depth ${limits.maxDepth}); what lies past them is not scanned, so it is not passed on as if it had been.`,
  }];
}

/** The placeholder for a string the scanner did not read. */
function notScanned(length: number): string {
  return `[NOT SCANNED: ${length} characters past the scanner's bounds]`;
}

/**
 * `content` with its scanned strings redacted and any string the walk did not reach replaced by
 * a placeholder (same shape otherwise). `scanned` maps a path to its text's redaction.
 */
function rebuild(content: unknown, scanned: ReadonlyMap<string, string>, limits: ScanLimits): unknown {
  const visit = (node: unknown, path: string, depth: number): unknown => {
    if (typeof node === 'string') return scanned.get(path) ?? notScanned(node.length);
    if (typeof node !== 'object' || node === null) return node;
    if (depth > limits.maxDepth) return notScanned(JSON.stringify(node).length);
    if (Array.isArray(node)) return node.map((item, index) => visit(item, child(path, index), depth + 1));
    const record = node as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(record)) out[key] = isBinaryPayload(record, key) ? item : visit(item, child(path, key), depth + 1);
    return out;
  };
  return visit(content, '', 0);
}

/** A scanner over compiled rules. Holds no state between calls but a cache of other servers' tools. */
export function createScanner(rules: CompiledRules): Scanner {
  const matcher = new RuleMatcher(rules);
  const shadowingRules = rules.rules.filter((rule) => rule.kind === 'shadowing' && rule.appliesTo.includes('definition'));
  // Why a WeakMap: the proxy passes the same `others` array for every tool of one listing; index once.
  const indexCache = new WeakMap<readonly ToolDefinition[], Map<string, OtherTools>>();
  const indexFor = (others: readonly ToolDefinition[], server: string): OtherTools => {
    const byServer = indexCache.get(others) ?? new Map<string, OtherTools>();
    indexCache.set(others, byServer);
    const cached = byServer.get(server) ?? indexOthers(others, server);
    byServer.set(server, cached);
    return cached;
  };

  return {
    rulesVersion: rules.rulesVersion,

    definition(tool, others) {
      const walked = emptyWalk();
      walk(tool.name, 'name', rules.limits, walked);
      if (tool.description !== undefined) walk(tool.description, 'description', rules.limits, walked);
      if (tool.inputSchema !== undefined) walk(tool.inputSchema, 'inputSchema', rules.limits, walked);
      if (tool.annotations !== undefined) walk(tool.annotations, 'annotations', rules.limits, walked);
      const fields = prepare(walked.fields, matcher.credentials);
      const index = indexFor(others, tool.server);
      const shadowing = shadowingRules.flatMap((rule) =>
        rule.match === 'collision' ? collisions(rule, tool, index, matcher) : references(rule, tool, fields, index, matcher));
      return [...overLimit(walked, rules.limits), ...matcher.match(fields, 'definition', shadowing)];
    },

    output(_server, _tool, content) {
      const walked = walk(content, '', rules.limits, emptyWalk());
      const fields = prepare(walked.fields, matcher.credentials);
      // A bare string has the empty path; findings name it "output".
      const findings = [...overLimit(walked, rules.limits), ...matcher.match(fields, 'output')].map((finding) => (finding.where === '' ? { ...finding, where: 'output' } : finding));
      const scanned = new Map<string, string>();
      for (const field of fields) {
        if (field.key) continue;
        // Plain text: the normalised redaction is the raw one (normalise() returns it unchanged).
        const raw = field.norm === field.text ? field.safe : redactText(field.text, matcher.credentials);
        // Why fall back to the normalised redaction: a credential split by invisible characters is
        // only visible once they are stripped, and must not pass because the raw text hides it.
        scanned.set(field.where, raw === field.safe || normalise(raw) === field.safe ? raw : field.safe);
      }
      return { findings, redacted: rebuild(content, scanned, rules.limits) };
    },
  };
}

/** Loads the rules file (default: the shipped policies/mcp-scan-rules.json) and returns a scanner; throws naming what is wrong. */
export async function loadScanner(rulesFile?: string): Promise<Scanner> {
  return createScanner(await loadRules(rulesFile));
}
