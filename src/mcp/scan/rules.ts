/**
 * The scanner's rules file: versioned data, checked against a JSON Schema at load (ajv) and then
 * compiled once (every pattern precompiled; a pattern that does not compile refuses the file).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Ajv } from 'ajv';
import { SCAN_SEVERITIES } from './severity.ts';
import type { ScanSeverity } from './severity.ts';

/** Where a rule applies: tool definitions, tool outputs (results, prompts, resources), or both. */
export type ScanTarget = 'definition' | 'output';

/**
 * How a rule matches. regex: a pattern over the normalised text. unicode: a character class over
 * the raw text (before normalisation strips it). credential: a pattern over the normalised text
 * whose matches are also redacted in outputs. shadowing: `reference` (the text names another
 * server's tool near behaviour-changing language, the pattern) or `collision` (the tool's name is
 * another server's tool name).
 */
export type RuleKind = 'regex' | 'unicode' | 'credential' | 'shadowing';

/** One rule as written in the rules file. */
export interface RuleSpec {
  id: string;
  severity: ScanSeverity;
  appliesTo: ScanTarget[];
  kind: RuleKind;
  pattern?: string;
  flags?: string;
  match?: 'reference' | 'collision';
  /** Only fires when all of these rules fired on the same definition or output. */
  requires?: string[];
  /** Decode each match (base64 or hex) and scan the decoded text with the regex rules. */
  decode?: 'base64' | 'hex';
  rationale: string;
}

/** Bounds on what one scan reads: beyond them the content is blocked, never passed unscanned. */
export interface ScanLimits {
  /** Characters scanned in one definition or output, all strings together. */
  maxTotalChars: number;
  /** Nesting depth walked. */
  maxDepth: number;
  /** Strings (and object keys) walked. */
  maxStrings: number;
  /** Length of a finding's excerpt. */
  excerptChars: number;
  /** Severity of the finding that reports content past these bounds. */
  overLimitSeverity: ScanSeverity;
}

/** The rules file as written. */
export interface RulesFile {
  version: string;
  limits: ScanLimits;
  rules: RuleSpec[];
}

/** A rule ready to run: its pattern compiled, sticky state reset before each use. */
export interface CompiledRule extends Omit<RuleSpec, 'pattern' | 'flags'> {
  regex: RegExp | null;
}

/** A loaded rules file. */
export interface CompiledRules {
  /** `version` from the file plus the SHA-256 of its bytes: an edit without a bump still shows. */
  rulesVersion: string;
  limits: ScanLimits;
  rules: CompiledRule[];
}

const severity = { enum: [...SCAN_SEVERITIES] };

/** JSON Schema of the rules file. */
export const RULES_SCHEMA = {
  type: 'object',
  required: ['version', 'limits', 'rules'],
  additionalProperties: false,
  properties: {
    $comment: { type: 'string' },
    version: { type: 'string', minLength: 1, maxLength: 64 },
    limits: {
      type: 'object',
      additionalProperties: false,
      required: ['maxTotalChars', 'maxDepth', 'maxStrings', 'excerptChars', 'overLimitSeverity'],
      properties: {
        maxTotalChars: { type: 'integer', minimum: 1024, maximum: 67108864 },
        maxDepth: { type: 'integer', minimum: 1, maximum: 256 },
        maxStrings: { type: 'integer', minimum: 1, maximum: 1000000 },
        excerptChars: { type: 'integer', minimum: 16, maximum: 1000 },
        overLimitSeverity: severity,
      },
    },
    rules: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'severity', 'appliesTo', 'kind', 'rationale'],
        properties: {
          id: { type: 'string', pattern: '^[a-z0-9]+(-[a-z0-9]+)*$', maxLength: 64 },
          severity,
          appliesTo: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['definition', 'output'] } },
          kind: { enum: ['regex', 'unicode', 'credential', 'shadowing'] },
          pattern: { type: 'string', minLength: 1, maxLength: 4000 },
          flags: { type: 'string', pattern: '^[imsu]*$' },
          match: { enum: ['reference', 'collision'] },
          requires: { type: 'array', minItems: 1, items: { type: 'string' } },
          decode: { enum: ['base64', 'hex'] },
          rationale: { type: 'string', minLength: 10 },
        },
        allOf: [
          // Every kind but a name collision matches text, so it needs a pattern.
          { if: { properties: { kind: { const: 'shadowing' } } }, then: { required: ['match'] } },
          { if: { not: { properties: { match: { const: 'collision' } }, required: ['match'] } }, then: { required: ['pattern'] } },
        ],
      },
    },
  },
} as const;

/** Compiles a parsed rules file; throws naming the rule that is wrong. `digest` is the file's SHA-256. */
export function compileRules(data: unknown, digest: string): CompiledRules {
  const ajv = new Ajv({ allErrors: true });
  const validate = ajv.compile<RulesFile>(RULES_SCHEMA);
  if (!validate(data)) {
    throw new Error(`MCP scan rules invalid: ${ajv.errorsText(validate.errors, { dataVar: 'rules' })}`);
  }
  const ids = new Set<string>();
  const rules = data.rules.map((spec): CompiledRule => {
    if (ids.has(spec.id)) throw new Error(`MCP scan rules invalid: duplicate rule id ${spec.id}`);
    ids.add(spec.id);
    const { pattern, flags, ...rest } = spec;
    if (pattern === undefined) return { ...rest, regex: null };
    // Why 'u' on unicode rules: a class like [\u{E0000}-\u{E007F}] only means code points with it.
    const all = new Set([...(flags ?? ''), 'g', ...(spec.kind === 'unicode' ? ['u'] : [])]);
    try {
      return { ...rest, regex: new RegExp(pattern, [...all].join('')) };
    } catch (error) {
      throw new Error(`MCP scan rules invalid: rule ${spec.id}: ${(error as Error).message}`, { cause: error });
    }
  });
  for (const rule of rules) {
    for (const required of rule.requires ?? []) {
      if (!ids.has(required)) throw new Error(`MCP scan rules invalid: rule ${rule.id} requires unknown rule ${required}`);
      if (rules.find((candidate) => candidate.id === required)?.requires !== undefined) {
        throw new Error(`MCP scan rules invalid: rule ${rule.id} requires ${required}, which itself requires others`);
      }
    }
  }
  return { rulesVersion: `${data.version}+sha256.${digest}`, limits: data.limits, rules };
}

/** The rules file shipped with airlock. */
export const DEFAULT_RULES_FILE = new URL('../../../policies/mcp-scan-rules.json', import.meta.url);

/** Reads, checks and compiles a rules file (default: the shipped one). */
export async function loadRules(file: string | URL = DEFAULT_RULES_FILE): Promise<CompiledRules> {
  const bytes = await readFile(file);
  let data: unknown;
  try {
    data = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new Error(`MCP scan rules ${String(file)}: not JSON (${(error as Error).message})`, { cause: error });
  }
  return compileRules(data, createHash('sha256').update(bytes).digest('hex'));
}
