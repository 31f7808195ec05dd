/**
 * Human-readable text for nftables JSON objects (`nft -j list` items and `nft -j monitor` events),
 * so a drift report names the table, chain and rule that changed in the syntax operators know.
 */

/** One object of `nft -j` output: `{ "<kind>": { family, table, name, ... } }`. */
export type NftItem = Record<string, { family?: string; table?: string; name?: string } & Record<string, unknown>>;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const MAX_TEXT = 200;

/** `table inet t`, `chain inet t input (hook input prio -10 policy accept)`, `rule inet t input #4: iifname "x" drop`. */
export function describeItem(item: NftItem): string {
  const [kind, body] = Object.entries(item)[0] ?? ['?', {}];
  const b = body as Record<string, Json>;
  const family = String(b['family'] ?? '?');
  if (kind === 'table') return `table ${family} ${String(b['name'])}`;
  const where = `${family} ${String(b['table'])}`;
  if (kind === 'chain') {
    const hook = b['hook'] === undefined ? '' : ` (hook ${String(b['hook'])} prio ${String(b['prio'])} policy ${String(b['policy'])})`;
    return `chain ${where} ${String(b['name'])}${hook}`;
  }
  if (kind === 'rule') {
    const expr = Array.isArray(b['expr']) ? b['expr'].map(statement).join(' ') : '';
    return clip(`rule ${where} ${String(b['chain'])} #${String(b['handle'])}: ${expr}`);
  }
  return clip(`${kind} ${where} ${String(b['name'] ?? '')}`.trim());
}

/** What one `nft -j monitor` line reports, e.g. `added rule inet t input #7: tcp dport 22 accept`. */
export function describeEvent(op: string, item: NftItem): string {
  const verb = op === 'add' ? 'added' : op === 'delete' ? 'deleted' : op;
  return `${verb} ${describeItem(item)}`;
}

/**
 * The difference between two listings of one table, item by item: `- <item>` for what went,
 * `+ <item>` for what came (handles included, so rules replaced by identical ones still show).
 */
export function diffItems(before: NftItem[], after: NftItem[], max = 4): string[] {
  const was = new Set(before.map(describeItem));
  const now = new Set(after.map(describeItem));
  const removed = [...was].filter((t) => !now.has(t)).map((t) => `- ${t}`);
  const added = [...now].filter((t) => !was.has(t)).map((t) => `+ ${t}`);
  const all = [...removed, ...added];
  return all.length > max ? [...all.slice(0, max), `… ${all.length - max} more`] : all;
}

function statement(s: Json): string {
  if (s === null || typeof s !== 'object' || Array.isArray(s)) return compact(s);
  const [key, value] = Object.entries(s)[0] ?? ['?', null];
  if (key === 'match' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const op = String(value['op'] ?? '==');
    return `${operand(value['left'] ?? null)}${op === '==' ? '' : ` ${op}`} ${operand(value['right'] ?? null)}`;
  }
  if (value === null) return key; // accept, drop, masquerade, ...
  if (key === 'jump' || key === 'goto') return `${key} ${String((value as Record<string, Json>)['target'])}`;
  return `${key} ${compact(value)}`;
}

function operand(v: Json): string {
  if (v === null || typeof v !== 'object') return typeof v === 'string' ? JSON.stringify(v) : String(v);
  if (Array.isArray(v)) return `{ ${v.map(operand).join(', ')} }`;
  const [key, value] = Object.entries(v)[0] ?? ['?', null];
  const o = (value ?? {}) as Record<string, Json>;
  if (key === 'payload') return `${String(o['protocol'])} ${String(o['field'])}`;
  if (key === 'meta') return ['iifname', 'oifname', 'iif', 'oif', 'mark'].includes(String(o['key'])) ? String(o['key']) : `meta ${String(o['key'])}`;
  if (key === 'ct') return `ct ${String(o['key'])}`;
  if (key === 'prefix') return `${String(o['addr'])}/${String(o['len'])}`;
  if (key === 'range' && Array.isArray(value)) return value.map(operand).join('-');
  if (key === 'set' && Array.isArray(value)) return `{ ${value.map(operand).join(', ')} }`;
  return compact(v);
}

function compact(v: Json): string {
  return clip(JSON.stringify(v) ?? String(v));
}

function clip(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text;
}
