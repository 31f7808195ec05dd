/**
 * Checking a policy bundle with Cedar: the schema parses, every policy file parses, the policies
 * validate against the schema (strict mode), every policy carries a unique `@id`, and `@approval`
 * is used only as documented (on permits, and only they read `context.approved`). All problems
 * are collected, each with its file, line and column.
 */
import type { Cedar, CedarTypes } from './cedar.ts';
import { isPolicyFile, isSchemaFile } from './bundle-files.ts';
import type { BundleFile } from './bundle-files.ts';
import { PolicyBundleError } from './bundle-error.ts';
import type { BundleIssue } from './bundle-error.ts';
import { lineColumnAt } from './source-location.ts';
import { readsApproval } from './approval-reference.ts';

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

/** A policy as found in its file, before validation against the schema. */
interface FoundPolicy extends CompiledPolicy {
  /** Byte offset of the policy's text in its file (Cedar's offsets within the policy start here). */
  offset: number;
  fileText: string;
}

function findPolicies(cedar: Cedar, file: BundleFile, issues: BundleIssue[]): FoundPolicy[] {
  const parsed = cedar.checkParsePolicySet({ staticPolicies: file.text });
  if (parsed.type === 'failure') {
    issues.push(...issuesFrom(file.name, file.text, parsed.errors));
    return [];
  }
  const parts = cedar.policySetTextToParts(file.text);
  if (parts.type === 'failure') {
    issues.push(...issuesFrom(file.name, file.text, parts.errors));
    return [];
  }
  if (parts.policy_templates.length > 0) {
    issues.push({ file: file.name, line: 0, column: 0, message: 'policy templates are not supported: write static policies' });
  }
  const policies: FoundPolicy[] = [];
  for (const text of parts.policies) {
    const offset = Buffer.byteLength(file.text.slice(0, Math.max(0, file.text.indexOf(text))));
    const { line, column } = lineColumnAt(file.text, offset);
    const json = cedar.policyToJson(text);
    if (json.type === 'failure') {
      issues.push(...issuesFrom(file.name, file.text, json.errors.map((e) => shifted(e, offset))));
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
    // Why: a policy outside the approval convention that depends on the approval would make
    // "allowed" and "allowed once approved" indistinguishable in one evaluation.
    if (approval === undefined && readsApproval(json.json)) {
      issues.push({ file: file.name, line, column, message: `only policies marked @${APPROVAL_ANNOTATION}("${APPROVAL_REQUIRED}") may read context.approved (or use context as a whole)` });
      continue;
    }
    policies.push({ id, file: file.name, line, effect: json.json.effect, needsApproval: approval !== undefined, reason: annotations['reason'] ?? null, text, offset, fileText: file.text });
  }
  return policies;
}

/** A Cedar error whose offsets are within one policy, moved to that policy's place in its file. */
function shifted(error: CedarTypes.DetailedError, offset: number): CedarTypes.DetailedError {
  return { ...error, sourceLocations: (error.sourceLocations ?? []).map((l) => ({ ...l, start: l.start + offset, end: l.end + offset })) };
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
  const found = policyFiles.flatMap((f) => findPolicies(cedar, f, issues));
  const byId = new Map<string, FoundPolicy>();
  for (const p of found) {
    const first = byId.get(p.id);
    if (first !== undefined) {
      issues.push({ file: p.file, line: p.line, column: 1, message: `duplicate @id("${p.id}"), first used at ${first.file}:${first.line}` });
    } else {
      byId.set(p.id, p);
    }
  }
  // Strict validation against the schema, all policies at once: a typo in an attribute or action
  // name is an error here, not a policy that silently never applies.
  const staticPolicies = Object.fromEntries([...byId.values()].map((p) => [p.id, p.text]));
  const validated = cedar.validate({ schema, policies: { staticPolicies }, validationSettings: { mode: 'strict' } });
  if (validated.type === 'failure') {
    issues.push(...issuesFrom(schemaFile.name, schemaFile.text, validated.errors));
  } else {
    for (const v of validated.validationErrors) {
      const p = byId.get(v.policyId);
      if (p === undefined) issues.push(...issuesFrom(dir, '', [v.error]));
      else issues.push(...issuesFrom(p.file, p.fileText, [shifted(v.error, p.offset)]));
    }
  }
  if (issues.length > 0) {
    // In file order, so a reader goes through them top to bottom.
    issues.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.column - b.column));
    throw new PolicyBundleError(dir, issues);
  }
  const policies = [...byId.values()].map(({ offset: _offset, fileText: _fileText, ...p }) => p);
  return { dir, schema, policies };
}
