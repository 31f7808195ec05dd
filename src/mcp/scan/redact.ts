/** Redaction of credential-shaped strings: every match of a credential rule becomes a marker. */
import type { CompiledRule } from './rules.ts';

/** The marker that replaces a credential found by `ruleId`. */
export function marker(ruleId: string): string {
  return `[REDACTED:${ruleId}]`;
}

/**
 * `text` with every match of `rules` (credential rules) replaced by its marker. A rule with a
 * named group `secret` replaces only that group, so `password=…` keeps its label.
 */
export function redactText(text: string, rules: readonly CompiledRule[]): string {
  let out = text;
  for (const rule of rules) {
    if (rule.regex === null) continue;
    out = out.replace(rule.regex, (...args: unknown[]) => {
      const match = String(args[0]);
      const groups = args.at(-1);
      const secret = typeof groups === 'object' && groups !== null ? (groups as Record<string, string | undefined>).secret : undefined;
      return secret === undefined || secret === '' ? marker(rule.id) : match.replace(secret, marker(rule.id));
    });
  }
  return out;
}
