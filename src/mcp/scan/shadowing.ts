/**
 * Shadowing: a tool whose definition tells the model how to use another server's tools, or whose
 * name collides with one. Both need the other servers' tools, so they run per definition.
 */
import type { ScanFinding, PreparedField, RuleMatcher } from './match.ts';
import type { CompiledRule } from './rules.ts';

/** The part of a tool definition shadowing looks at. */
export interface NamedTool {
  server: string;
  name: string;
}

/** Characters either side of a mention within which behaviour-changing language must appear. */
const WINDOW = 200;
/** Mentions checked per field: bounds the work on text that repeats a name many times. */
const MAX_MENTIONS = 64;

/** A name that reads as an identifier (snake_case, kebab-case, dotted, digits, camelCase). */
function identifierLike(name: string): boolean {
  return /[_\-.\d]/.test(name) || /[a-z][A-Z]/.test(name);
}

/** Escapes `text` for use inside a regular expression. */
function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/** What the other servers' tools look like to the reference check: one regex, and who owns each name. */
export interface OtherTools {
  mention: RegExp | null;
  owners: Map<string, string[]>;
  names: Set<string>;
}

/**
 * Indexes `others` (excluding `self`'s server). Identifier-like names match anywhere as a word;
 * plain words ("fetch", "query") only next to "tool" or in backticks, since they are also English.
 */
export function indexOthers(others: readonly NamedTool[], selfServer: string): OtherTools {
  const owners = new Map<string, string[]>();
  for (const tool of others) {
    if (tool.server === selfServer) continue;
    const key = tool.name.toLowerCase();
    owners.set(key, [...(owners.get(key) ?? []), tool.server]);
  }
  const names = [...owners.keys()].filter((name) => name.length >= 2).sort((a, b) => b.length - a.length);
  const ids = names.filter(identifierLike).map(escape);
  const words = names.filter((name) => !identifierLike(name)).map(escape);
  const parts: string[] = [];
  if (ids.length > 0) parts.push(`(?<![\\w-])(?<id>${ids.join('|')})(?![\\w-])`);
  if (words.length > 0) {
    const alt = words.join('|');
    parts.push(`\\b(?<w1>${alt})\\s+tools?\\b`, `\\btools?\\s+(?:called\\s+|named\\s+)?["'\`]?(?<w2>${alt})\\b`, `\`(?<w3>${alt})\``);
  }
  return { mention: parts.length === 0 ? null : new RegExp(parts.join('|'), 'gi'), owners, names: new Set(owners.keys()) };
}

/** Collision findings: `self`'s name is another server's tool name. */
export function collisions(rule: CompiledRule, self: NamedTool, others: OtherTools, matcher: RuleMatcher): ScanFinding[] {
  const owners = others.owners.get(self.name.toLowerCase());
  if (owners === undefined) return [];
  return [matcher.finding(rule, 'name', self.name, 0, self.name.length, ` Also defined by: ${owners.join(', ')}.`)];
}

/** Reference findings: a field names another server's tool within reach of behaviour-changing language. */
export function references(rule: CompiledRule, self: NamedTool, fields: readonly PreparedField[], others: OtherTools, matcher: RuleMatcher): ScanFinding[] {
  const found: ScanFinding[] = [];
  if (others.mention === null || rule.regex === null) return found;
  for (const field of fields) {
    others.mention.lastIndex = 0;
    let checked = 0;
    for (let hit = others.mention.exec(field.safe); hit !== null && checked < MAX_MENTIONS; hit = others.mention.exec(field.safe), checked++) {
      const groups = hit.groups ?? {};
      const name = (groups.id ?? groups.w1 ?? groups.w2 ?? groups.w3 ?? '').toLowerCase();
      // Its own name: the definition describing itself, not another tool (a collision covers clashes).
      if (name === self.name.toLowerCase()) continue;
      const from = Math.max(0, hit.index - WINDOW);
      const near = field.safe.slice(from, hit.index + hit[0].length + WINDOW);
      rule.regex.lastIndex = 0;
      if (!rule.regex.test(near)) continue;
      found.push(matcher.finding(rule, field.where, field.safe, hit.index, hit.index + hit[0].length, ` It names ${name} of ${(others.owners.get(name) ?? []).join(', ')}.`));
      break;
    }
  }
  return found;
}
