/**
 * A stamp remembers that a policy bundle passed every check of compileBundle, so a short-lived
 * front end (`airlock run`) need not re-validate the same files each time (Cedar's strict
 * validation is most of its start-up). A stamp is keyed by the bundle hash (the files' names and
 * contents), the Cedar engine's version and the checker's own source: a changed file, a Cedar
 * upgrade or a changed rule is a different key, so it is checked in full again.
 *
 * Why a stamp is as trustworthy as a check: it is written only by root, after the check passed,
 * into a directory of the state directory that only root may write (and that is refused if it is
 * anything else), and read back only by root. Whoever can plant one can already rewrite the store
 * beside it (keys, principals, approvals) or the configuration that names the bundle, so it gives
 * no one a power they did not have. A stamp that is missing, unreadable, malformed or not private
 * is ignored and the bundle is checked in full: it can only save time, never admit a bundle.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePrivateDir, isRootProcess, readRootPrivate, writeRootPrivate } from '../host/root-private-files.ts';
import { bundleHash, type BundleFile } from './bundle-files.ts';
import type { CompiledPolicy } from './compile-bundle.ts';
import type { CedarTypes } from './cedar.ts';

/** What a stamp holds: the checker's output for the bundle it names. */
export interface StampedBundle {
  schema: CedarTypes.Schema;
  policies: readonly CompiledPolicy[];
}

/** The sources whose rules decide whether a bundle is valid: a change to any re-checks every bundle. */
const CHECKER_SOURCES = ['./compile-bundle.ts', './approval-reference.ts'].map((p) => fileURLToPath(new URL(p, import.meta.url)));
const CEDAR_PACKAGE = fileURLToPath(new URL('../package.json', import.meta.resolve('@cedar-policy/cedar-wasm/nodejs')));

/** The stamp's content if it has exactly the shape writeStamp gives it (checked by hand: no schema library on this start-up path). */
function parseStamp(text: string): { key: string; schema: CedarTypes.Schema; policies: CompiledPolicy[] } | undefined {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const isPolicy = (p: unknown): p is CompiledPolicy =>
    isObject(p) &&
    typeof p['id'] === 'string' && p['id'] !== '' &&
    typeof p['file'] === 'string' &&
    Number.isInteger(p['line']) &&
    (p['effect'] === 'permit' || p['effect'] === 'forbid') &&
    typeof p['needsApproval'] === 'boolean' &&
    (p['reason'] === null || typeof p['reason'] === 'string') &&
    typeof p['text'] === 'string' &&
    Object.keys(p).length === 7;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(v) || typeof v['key'] !== 'string' || !(typeof v['schema'] === 'string' || isObject(v['schema']))) return undefined;
  const policies = v['policies'];
  if (!Array.isArray(policies) || policies.length === 0 || !policies.every(isPolicy)) return undefined;
  return { key: v['key'], schema: v['schema'] as CedarTypes.Schema, policies };
}

/** The key of a bundle's stamp: its hash, the Cedar version and the checker's source, hashed together. */
export async function stampKey(files: readonly BundleFile[]): Promise<string> {
  const parts = await Promise.all([CEDAR_PACKAGE, ...CHECKER_SOURCES].map((p) => readFile(p)));
  const h = createHash('sha256').update(bundleHash(files));
  for (const p of parts) h.update(createHash('sha256').update(p).digest());
  return h.digest('hex');
}

/** The checked bundle `key` names, or undefined when there is no trustworthy stamp for it. */
export async function readStamp(dir: string, key: string): Promise<StampedBundle | undefined> {
  const text = await readRootPrivate(dir, `${key}.json`);
  const parsed = text === undefined ? undefined : parseStamp(text);
  if (parsed === undefined || parsed.key !== key) return undefined;
  return { schema: parsed.schema, policies: parsed.policies };
}

/**
 * Records that the bundle `key` names passed the checks (written whole or not at all). Best
 * effort: a state directory that cannot take it only means the next start checks again.
 */
export async function writeStamp(dir: string, key: string, bundle: StampedBundle): Promise<void> {
  // Not remembered when it can't be written: the next start validates in full.
  if (!(await ensurePrivateDir(dir))) return;
  writeRootPrivate(dir, `${key}.json`, JSON.stringify({ key, schema: bundle.schema, policies: bundle.policies }));
}

/** Where a controller keeps its stamps: `<stateDir>/policy-stamps`. */
export function stampDirOf(config: { stateDir: string }): string {
  return join(config.stateDir, 'policy-stamps');
}

/** How many of Cedar's answers a bundle's decision memo keeps (the most recently made). */
export const DECISION_MEMO_SIZE = 64;

/** Whether `v` has the shape of a successful Cedar answer (a failed one is never remembered). */
function isAnswer(v: unknown): v is CedarTypes.AuthorizationAnswer {
  if (typeof v !== 'object' || v === null) return false;
  const a = v as { type?: unknown; response?: { decision?: unknown; diagnostics?: { reason?: unknown; errors?: unknown } }; warnings?: unknown };
  const d = a.response?.diagnostics;
  return (
    a.type === 'success' &&
    (a.response?.decision === 'allow' || a.response?.decision === 'deny') &&
    Array.isArray(d?.reason) && d.reason.every((r) => typeof r === 'string') &&
    Array.isArray(d?.errors) && Array.isArray(a.warnings)
  );
}

/**
 * Cedar's answers remembered for the bundle `key` names, by their exact call (see
 * PolicyEngine): what a short-lived front end decided before, so that the same request again is
 * answered without loading Cedar. Empty when there is no trustworthy memo.
 *
 * Why this is as sound as the engine's own cache: an answer is a pure function of the bundle
 * (fixed by `key`, with the Cedar version and the checker) and of the call, which the entry's
 * name spells out in full; the memo is root's and private like the stamp beside it.
 */
export async function readDecisions(dir: string, key: string): Promise<Map<string, CedarTypes.AuthorizationAnswer>> {
  const memo = new Map<string, CedarTypes.AuthorizationAnswer>();
  const text = await readRootPrivate(dir, `${key}.decisions.json`);
  if (text === undefined) return memo;
  try {
    const entries: unknown = JSON.parse(text);
    if (!Array.isArray(entries)) return memo;
    for (const e of entries) {
      // One malformed entry discredits the file: nothing of it is used.
      if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== 'string' || !isAnswer(e[1])) return new Map();
      memo.set(e[0], e[1]);
    }
  } catch {
    return new Map();
  }
  return memo;
}

/**
 * Writes the last {@link DECISION_MEMO_SIZE} of `answers` (oldest first) as the memo of `key`,
 * whole or not at all. Synchronous (a few kB) so that it is done before a short command exits;
 * best effort like writeStamp. Only called after the stamp for `key` was read, so `dir` exists.
 */
export function writeDecisions(dir: string, key: string, answers: ReadonlyMap<string, CedarTypes.AuthorizationAnswer>): void {
  if (!isRootProcess()) return;
  const entries = [...answers].filter(([, a]) => isAnswer(a)).slice(-DECISION_MEMO_SIZE);
  // Not remembered when it can't be written: the next run evaluates again.
  writeRootPrivate(dir, `${key}.decisions.json`, JSON.stringify(entries));
}
