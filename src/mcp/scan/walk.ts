/**
 * Walks a definition or an output into the strings to scan, each with where it sits, within the
 * rules file's bounds. Whatever lies past the bounds is reported, not silently skipped.
 */
import type { ScanLimits } from './rules.ts';

/** One string to scan and where it is (e.g. `inputSchema.properties.path.description`). */
export interface Field {
  where: string;
  text: string;
  /** True for an object key (a property name) rather than a value. */
  key: boolean;
}

/** The walk's result: the fields, and where (if anywhere) the bounds were exceeded. */
export interface Walked {
  fields: Field[];
  /** Where the first content past the bounds was found, or null. */
  overLimit: string | null;
  /** Characters taken. */
  chars: number;
}

/** Binary payloads of MCP content blocks: base64 image/audio data and resource blobs, not text. */
export function isBinaryPayload(parent: Record<string, unknown>, key: string): boolean {
  return (key === 'data' && (parent.type === 'image' || parent.type === 'audio')) || (key === 'blob' && typeof parent.uri === 'string');
}

/** Appends `.key` or `[index]` to a path. */
export function child(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  const safe = /^[A-Za-z_$][\w$-]*$/.test(key) ? key : JSON.stringify(key);
  return path === '' ? safe : `${path}.${safe}`;
}

/**
 * Collects the strings of `value` (and object keys) under `root`, depth-first, until the limits.
 * `into` is shared across calls so the parts of one definition count against one budget.
 */
export function walk(value: unknown, root: string, limits: ScanLimits, into: Walked): Walked {
  const take = (text: string, where: string, key: boolean): void => {
    if (into.fields.length >= limits.maxStrings || into.chars + text.length > limits.maxTotalChars) {
      into.overLimit = where;
      return;
    }
    into.fields.push({ where, text, key });
    into.chars += text.length;
  };
  const visit = (node: unknown, path: string, depth: number): void => {
    if (into.overLimit !== null) return;
    if (depth > limits.maxDepth) {
      into.overLimit = path;
    } else if (typeof node === 'string') {
      take(node, path, false);
    } else if (Array.isArray(node)) {
      node.forEach((item, index) => visit(item, child(path, index), depth + 1));
    } else if (typeof node === 'object' && node !== null) {
      const record = node as Record<string, unknown>;
      for (const [key, item] of Object.entries(record)) {
        if (isBinaryPayload(record, key)) continue;
        const at = child(path, key);
        // Why keys too: a property name is shown to the model as much as its description.
        take(key, `${at}(key)`, true);
        visit(item, at, depth + 1);
      }
    }
  };
  visit(value, root, 0);
  return into;
}

/** An empty walk result to start from. */
export function emptyWalk(): Walked {
  return { fields: [], overLimit: null, chars: 0 };
}
