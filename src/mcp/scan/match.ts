/**
 * Runs the compiled rules over walked fields: unicode rules over the raw text, the others over
 * the normalised text with credentials already redacted (so no excerpt can leak one), blobs
 * decoded and scanned again, and rules that require others last.
 */
import { marker, redactText } from './redact.ts';
import type { CompiledRule, CompiledRules, ScanTarget } from './rules.ts';
import type { ScanSeverity } from './severity.ts';
import { excerpt, normalise } from './text.ts';
import type { Field } from './walk.ts';

/** One finding of the scanner. */
export interface ScanFinding {
  rule: string;
  severity: ScanSeverity;
  where: string;
  excerpt: string;
  rationale: string;
}

/** A field ready for matching: raw text, normalised text, and normalised text with credentials redacted. */
export interface PreparedField extends Field {
  norm: string;
  safe: string;
}

/** Decoded blobs scanned per field: a bound on work, not on what is flagged (the blob itself is). */
const MAX_DECODED_PER_FIELD = 4;

/** Prepares `fields` for matching against `credentials` (the credential rules). */
export function prepare(fields: readonly Field[], credentials: readonly CompiledRule[]): PreparedField[] {
  return fields.map((field) => {
    const norm = normalise(field.text);
    return { ...field, norm, safe: redactText(norm, credentials) };
  });
}

/** The first match of `regex` in `text` (the regex is global: its position is reset first). */
function first(regex: RegExp, text: string): RegExpExecArray | null {
  regex.lastIndex = 0;
  return regex.exec(text);
}

/** Decodes a base64 or hex blob to text, or null when it is not mostly printable text. */
function decodeBlob(blob: string, how: 'base64' | 'hex'): string | null {
  const bytes = Buffer.from(how === 'hex' ? blob : blob.replace(/=+$/, ''), how);
  const text = bytes.toString('utf8');
  let printable = 0;
  for (const char of text) if (/[\t\n\r\x20-\x7e]/.test(char) || char.codePointAt(0)! > 0x9f) printable++;
  return text.length > 0 && printable / text.length >= 0.9 ? text : null;
}

/** Matches rules against prepared fields for one definition or output. */
export class RuleMatcher {
  readonly #rules: CompiledRules;
  readonly #credentials: CompiledRule[];

  constructor(rules: CompiledRules) {
    this.#rules = rules;
    this.#credentials = rules.rules.filter((rule) => rule.kind === 'credential');
  }

  /** The credential rules, in file order (also the redaction rules). */
  get credentials(): readonly CompiledRule[] {
    return this.#credentials;
  }

  /** A finding for `rule` at `where`, with an excerpt of `text` around [start, end). */
  finding(rule: CompiledRule, where: string, text: string, start: number, end: number, note = ''): ScanFinding {
    return { rule: rule.id, severity: rule.severity, where, excerpt: excerpt(text, start, end, this.#rules.limits.excerptChars), rationale: `${rule.rationale}${note}` };
  }

  /** Findings of one text rule (regex, unicode or credential) in one field, or none. */
  #matchField(rule: CompiledRule, field: PreparedField): ScanFinding[] {
    if (rule.regex === null) return [];
    if (rule.kind === 'unicode') {
      const hit = first(rule.regex, field.text);
      if (hit === null) return [];
      const safeRaw = redactText(field.text, this.#credentials);
      return [this.finding(rule, field.where, safeRaw, hit.index, hit.index + hit[0].length)];
    }
    if (rule.kind === 'credential') {
      if (first(rule.regex, field.norm) === null) return [];
      const at = field.safe.indexOf(marker(rule.id));
      const start = at < 0 ? 0 : at;
      return [this.finding(rule, field.where, field.safe, start, start + marker(rule.id).length)];
    }
    const hit = first(rule.regex, field.safe);
    if (hit === null) return [];
    const found = [this.finding(rule, field.where, field.safe, hit.index, hit.index + hit[0].length)];
    if (rule.decode !== undefined) found.push(...this.#decoded(rule, field));
    return found;
  }

  /** Findings in the decoded blobs that `rule` (a decode rule) matches in `field`. */
  #decoded(rule: CompiledRule, field: PreparedField): ScanFinding[] {
    const found: ScanFinding[] = [];
    const how = rule.decode!;
    rule.regex!.lastIndex = 0;
    for (let count = 0; count < MAX_DECODED_PER_FIELD; count++) {
      const hit = rule.regex!.exec(field.safe);
      if (hit === null) break;
      const text = decodeBlob(hit[0], how);
      if (text === null) continue;
      const decoded = prepare([{ where: `${field.where}(${how}-decoded)`, text, key: field.key }], this.#credentials)[0]!;
      // Why one level: a decoded blob is scanned by the plain rules, never decoded again (bounded work).
      for (const inner of this.#rules.rules) {
        if (inner.decode === undefined && inner.requires === undefined && inner.kind !== 'shadowing') found.push(...this.#matchField(inner, decoded));
      }
    }
    return found;
  }

  /**
   * Every text-rule finding for `target` in `fields`; `extra` (shadowing findings) counts toward
   * rules that require others. Rules with `requires` run last, over the same fields.
   */
  match(fields: readonly PreparedField[], target: ScanTarget, extra: readonly ScanFinding[] = []): ScanFinding[] {
    const applicable = this.#rules.rules.filter((rule) => rule.appliesTo.includes(target) && rule.kind !== 'shadowing');
    const findings: ScanFinding[] = [...extra];
    for (const rule of applicable.filter((candidate) => candidate.requires === undefined)) {
      for (const field of fields) findings.push(...this.#matchField(rule, field));
    }
    const fired = new Set(findings.map((finding) => finding.rule));
    for (const rule of applicable.filter((candidate) => candidate.requires !== undefined)) {
      if (!rule.requires!.every((id) => fired.has(id))) continue;
      for (const field of fields) findings.push(...this.#matchField(rule, field));
    }
    return dedupe(findings);
  }
}

/** One finding per rule and place (decoded blobs can repeat what the field itself showed). */
function dedupe(findings: readonly ScanFinding[]): ScanFinding[] {
  const seen = new Set<string>();
  return findings.filter((finding) => {
    const key = `${finding.rule}\u0000${finding.where}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
