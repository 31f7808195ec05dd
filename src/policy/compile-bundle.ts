/**
 * Checking a policy bundle with Cedar: the schema parses, every policy file parses and validates
 * against the schema (strict mode), every policy carries a unique `@id`, and `@approval` is used
 * only as documented. All problems are collected, each with its file, line and column.
 */
import type { Cedar, CedarTypes } from './cedar.ts';
import { isPolicyFile, isSchemaFile } from './bundle-files.ts';
import type { BundleFile } from './bundle-files.ts';
import { PolicyBundleError } from './bundle-error.ts';
import type { BundleIssue } from './bundle-error.ts';
import { lineColumnAt } from './source-location.ts';

/** One policy of a compiled bundle. */
export interface CompiledPolicy {
  /** Its `@id` annotation: the name decisions report. */
  id: string;
  file: string;
  line: number;
  effect: 'permit' | 'forbid';
  /** Carries `@approval("required")`: it applies only to a request with a signed approval. */
  needsApproval: boolean;
  /** Its `@reason` annotation, the sentence a refusal quotes (null when absent). */
  reason: string | null;
  text: string;
}

/** A bundle that passed every check. */
export interface CompiledBundle {
  dir: string;
  /** The schema as Cedar takes it: text, or the parsed JSON form. */
  schema: CedarTypes.Schema;
  policies: readonly CompiledPolicy[];
}

/** The annotation that marks a permit as needing an approval, and its only accepted value. */
export const APPROVAL_ANNOTATION = 'approval';
export const APPROVAL_REQUIRED = 'required';

function issuesFrom(file: string, text: string, errors: readonly CedarTypes.DetailedError[]): BundleIssue[] {
  return errors.map((e) => {
    const at = e.sourceLocations?.[0];
    const { line, column } = at === undefined ? { line: 0, column: 0 } : lineColumnAt(text, at.start);
    const help = e.help === null ? '' : ` (${e.help})`;
    return { file, line, column, message: `${e.message}${help}` };
  });
}

function parseSchema(cedar: Cedar, file: BundleFile, issues: BundleIssue[]): CedarTypes.Schema | null {
  let schema: CedarTypes.Schema = file.text;
  if (file.name.endsWith('.json')) {
    try {
      schema = JSON.parse(file.text) as CedarTypes.SchemaJson<string>;
    } catch (err) {
      issues.push({ file: file.name, line: 0, column: 0, message: `not valid JSON: ${(err as Error).message}` });
      return null;
    }
  }
  const parsed = cedar.checkParseSchema(schema);
  if (parsed.type === 'failure') {
    issues.push(...issuesFrom(file.name, file.text, parsed.errors));
    return null;
  }
  return schema;
}

function compilePolicyFile(cedar: Cedar, schema: CedarTypes.Schema, file: BundleFile, issues: BundleIssue[]): CompiledPolicy[] {
  const parsed = cedar.checkParsePolicySet({ staticPolicies: file.text });
  if (parsed.type === 'failure') {
    issues.push(...issuesFrom(file.name, file.text, parsed.errors));
    return [];
  }
  // Strict validation against the schema: a typo in an attribute or action name is an error here,
  // not a policy that silently never applies.
  const validated = cedar.validate({ schema, policies: { staticPolicies: file.text }, validationSettings: { mode: 'strict' } });
  if (validated.type === 'failure') {
    issues.push(...issuesFrom(file.name, file.text, validated.errors));
    return [];
  }
  const before = issues.length;
  issues.push(...issuesFrom(file.name, file.text, validated.validationErrors.map((v) => v.error)));
  if (issues.length > before) return [];
  const parts = cedar.policySetTextToParts(file.text);
  if (parts.type === 'failure') {
    issues.push(...issuesFrom(file.name, file.text, parts.errors));
    return [];
  }
  if (parts.policy_templates.length > 0) {
    issues.push({ file: file.name, line: 0, column: 0, message: 'policy templates are not supported: write static policies' });
  }
  const policies: CompiledPolicy[] = [];
  for (const text of parts.policies) {
    const { line, column } = lineColumnAt(file.text, Buffer.byteLength(file.text.slice(0, Math.max(0, file.text.indexOf(text)))));
    const json = cedar.policyToJson(text);
    if (json.type === 'failure') {
      issues.push(...issuesFrom(file.name, text, json.errors).map((i) => ({ ...i, line: i.line + line - 1 })));
      continue;
    }
    const annotations = json.json.annotations ?? {};
    const id = annotations['id'];
    // Why: a decision names the policy that made it; an anonymous policy could not be named.
    if (id === undefined || id.trim() === '') {
      issues.push({ file: file.name, line, column, message: 'policy has no @id("...") annotation' });
      continue;
    }
    const approval = annotations[APPROVAL_ANNOTATION];
    if (approval !== undefined && (approval !== APPROVAL_REQUIRED || json.json.effect !== 'permit')) {
      issues.push({ file: file.name, line, column, message: `@${APPROVAL_ANNOTATION}("${APPROVAL_REQUIRED}") belongs on permit policies only, with that value` });
      continue;
    }
    policies.push({
      id,
      file: file.name,
      line,
      effect: json.json.effect,
      needsApproval: approval !== undefined,
      reason: annotations['reason'] ?? null,
      text,
    });
  }
  return policies;
}

/** Checks a bundle's files; throws PolicyBundleError listing every problem. */
export function compileBundle(cedar: Cedar, dir: string, files: readonly BundleFile[]): CompiledBundle {
  const issues: BundleIssue[] = [];
  const schemaFiles = files.filter((f) => isSchemaFile(f.name));
  const policyFiles = files.filter((f) => isPolicyFile(f.name));
  if (schemaFiles.length !== 1) {
    const found = schemaFiles.length === 0 ? 'none' : schemaFiles.map((f) => f.name).join(', ');
    throw new PolicyBundleError(dir, [{ file: dir, line: 0, column: 0, message: `expected exactly one *.cedarschema file, found ${found}` }]);
  }
  // Why: an empty bundle denies everything, which is safe but almost surely a wrong directory.
  if (policyFiles.length === 0) {
    throw new PolicyBundleError(dir, [{ file: dir, line: 0, column: 0, message: 'no *.cedar policy files' }]);
  }
  const schemaFile = schemaFiles[0] as BundleFile;
  const schema = parseSchema(cedar, schemaFile, issues);
  if (schema === null) throw new PolicyBundleError(dir, issues);
  const policies = policyFiles.flatMap((f) => compilePolicyFile(cedar, schema, f, issues));
  const seen = new Map<string, CompiledPolicy>();
  for (const p of policies) {
    const first = seen.get(p.id);
    if (first !== undefined) {
      issues.push({ file: p.file, line: p.line, column: 1, message: `duplicate @id("${p.id}"), first used at ${first.file}:${first.line}` });
    } else {
      seen.set(p.id, p);
    }
  }
  if (issues.length > 0) throw new PolicyBundleError(dir, issues);
  return { dir, schema, policies };
}
