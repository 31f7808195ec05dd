/**
 * The policy engine: a validated Cedar bundle, held by one instance, that answers authorization
 * requests with allow, deny, or "allowed once approved".
 *
 * "Needs approval" is a third outcome on top of Cedar's two. Permits that require an approval are
 * annotated `@approval("required")` and hold only while `context.approved` is true; no other policy
 * may read it (the bundle check refuses one that does), so every other policy decides the same
 * with or without an approval. A request is therefore evaluated once, as if approved: denied means
 * "deny" (forbids win, approval or not); allowed by at least one policy that needs no approval means
 * "allow"; allowed only by approval permits means "approval", unless the request carries one.
 */
import { loadCedar, requireCedar } from './cedar.ts';
import type { Cedar, CedarTypes } from './cedar.ts';
import { bundleHash, readBundleFiles } from './bundle-files.ts';
import type { BundleFile } from './bundle-files.ts';
import { readDecisions, readStamp, stampKey, writeDecisions, writeStamp } from './bundle-stamp.ts';
import type { CompiledPolicy } from './compile-bundle.ts';
import { PolicyBundleError } from './bundle-error.ts';
import { toCedarRequest } from './request.ts';
import type { PolicyRequest } from './request.ts';

/** The bundle checker, loaded only when a bundle is checked: a stamped bundle (see bundle-stamp.ts) never needs it. */
const compiler = () => import('./compile-bundle.ts');

/** Cedar answers an engine remembers (a few KB each): repeated requests skip the evaluation. */
export const DECISION_CACHE_SIZE = 1024;

/** The outcome of one authorization request. */
export interface PolicyDecision {
  /** `approval`: allowed only once a signed approval of exactly this request is attached. */
  decision: 'allow' | 'deny' | 'approval';
  /** `@id`s of the policies that decided: the permits that allowed, or the forbids that denied (none: default deny). */
  policyIds: string[];
  /** Sentences for the caller: the deciding policies' `@reason`s, or why nothing decided. */
  reasons: string[];
  /**
   * Cedar's errors, for the operator's log and never for the caller: they may quote the resource's
   * attributes, i.e. another tenant's sandbox. Empty when evaluation went cleanly.
   */
  errors: string[];
}

/** A loaded, validated policy bundle and the evaluator over it. */
export class PolicyEngine {
  /** `sha256:<hex>` of the bundle's files (see bundleHash). */
  readonly hash: string;
  readonly dir: string;
  readonly policies: readonly CompiledPolicy[];
  /** Cedar with this bundle pre-parsed: at hand, or loaded on the first evaluation (see load). */
  readonly #evaluator: () => Cedar;
  readonly #byId: ReadonlyMap<string, CompiledPolicy>;
  // Cedar keeps pre-parsed sets in the wasm module, by name; the name is the content hash, so
  // engines with the same bundle share one entry and engines with different bundles never collide.
  readonly #cacheName: string;
  /** Cedar's answers by their exact call (JSON), least recently used first; read only, never mutated. */
  readonly #answers = new Map<string, CedarTypes.AuthorizationAnswer>();
  /** Where new answers are remembered across processes (see bundle-stamp.ts); undefined: nowhere. */
  readonly #memo: { dir: string; key: string } | undefined;

  private constructor(
    evaluator: Cedar | (() => Cedar),
    dir: string,
    hash: string,
    policies: readonly CompiledPolicy[],
    schema: CedarTypes.Schema,
    memo?: { dir: string; key: string; answers: ReadonlyMap<string, CedarTypes.AuthorizationAnswer> },
  ) {
    this.dir = dir;
    this.hash = hash;
    this.policies = policies;
    this.#byId = new Map(policies.map((p) => [p.id, p]));
    this.#cacheName = `airlock:${hash}`;
    const prepare = (cedar: Cedar): Cedar => {
      const staticPolicies = Object.fromEntries(policies.map((p) => [p.id, p.text]));
      const parsedSet = cedar.preparsePolicySet(this.#cacheName, { staticPolicies });
      const parsedSchema = cedar.preparseSchema(this.#cacheName, schema);
      for (const answer of [parsedSet, parsedSchema]) {
        if (answer.type === 'failure') {
          throw new PolicyBundleError(dir, answer.errors.map((e) => ({ file: dir, line: 0, column: 0, message: e.message })));
        }
      }
      return cedar;
    };
    if (typeof evaluator === 'function') {
      let prepared: Cedar | undefined;
      this.#evaluator = () => (prepared ??= prepare(evaluator()));
    } else {
      const prepared = prepare(evaluator);
      this.#evaluator = () => prepared;
    }
    if (memo !== undefined) {
      for (const [call, answer] of memo.answers) this.#answers.set(call, answer);
      this.#memo = { dir: memo.dir, key: memo.key };
    }
  }

  /**
   * Reads and validates the bundle in `dir`; throws PolicyBundleError naming each bad file and line.
   * With `stampDir`, a bundle already checked (see bundle-stamp.ts) is not checked again, and with
   * `rememberDecisions` too (a short-lived front end), Cedar is loaded only when a decision was not
   * made before: answers are remembered beside the stamp.
   */
  static async load(dir: string, options: { stampDir?: string | undefined; rememberDecisions?: boolean } = {}): Promise<PolicyEngine> {
    const files = await readBundleFiles(dir);
    const { stampDir } = options;
    if (stampDir === undefined) return PolicyEngine.fromFiles(dir, files);
    const key = await stampKey(files);
    const stamp = await readStamp(stampDir, key);
    if (stamp !== undefined && options.rememberDecisions === true) {
      const answers = await readDecisions(stampDir, key);
      return new PolicyEngine(requireCedar, dir, bundleHash(files), stamp.policies, stamp.schema, { dir: stampDir, key, answers });
    }
    const cedar = await loadCedar();
    if (stamp !== undefined) return new PolicyEngine(cedar, dir, bundleHash(files), stamp.policies, stamp.schema);
    const bundle = (await compiler()).compileBundle(cedar, dir, files);
    const engine = new PolicyEngine(cedar, dir, bundleHash(files), bundle.policies, bundle.schema);
    // Kept in Cedar's JSON form: a fresh process parses that several times faster than the text.
    const json = typeof bundle.schema === 'string' ? cedar.schemaToJson(bundle.schema) : undefined;
    await writeStamp(stampDir, key, { policies: bundle.policies, schema: json?.type === 'success' ? json.json : bundle.schema });
    return engine;
  }

  /** Validates a bundle given as files (`dir` only names it in messages). */
  static async fromFiles(dir: string, files: readonly BundleFile[]): Promise<PolicyEngine> {
    const cedar = await loadCedar();
    const bundle = (await compiler()).compileBundle(cedar, dir, files);
    return new PolicyEngine(cedar, dir, bundleHash(files), bundle.policies, bundle.schema);
  }

  /** Decides one request. A request that does not fit the schema is denied, with Cedar's reason. */
  evaluate(request: PolicyRequest): PolicyDecision {
    const answer = this.#authorize(request);
    if (answer.type === 'failure') return this.#malformed(answer.errors);
    const { decision, diagnostics } = answer.response;
    if (decision === 'deny') return this.#outcome('deny', diagnostics.reason, diagnostics);
    if (request.approved === true) return this.#outcome('allow', diagnostics.reason, diagnostics);
    const outright = diagnostics.reason.filter((id) => this.#byId.get(id)?.needsApproval !== true);
    if (outright.length > 0) return this.#outcome('allow', outright, diagnostics);
    return this.#outcome('approval', diagnostics.reason, diagnostics);
  }

  #authorize(request: PolicyRequest): CedarTypes.AuthorizationAnswer {
    // Evaluated as if approved: see the module comment for why one evaluation suffices.
    const call = toCedarRequest(request, true);
    // Why a cache is sound: Cedar evaluation is a pure function of the bundle (fixed per engine) and
    // of this call, which the key spells out in full; it saves ~1-2 ms of the event loop per request.
    const key = JSON.stringify(call);
    const cached = this.#answers.get(key);
    if (cached !== undefined) {
      // Re-inserted: the map's order is then least recently used first.
      this.#answers.delete(key);
      this.#answers.set(key, cached);
      return cached;
    }
    const answer = this.#evaluator().statefulIsAuthorized({
      ...call,
      preparsedPolicySetId: this.#cacheName,
      preparsedSchemaName: this.#cacheName,
      // Why: a request whose shape the policies were not validated against could slip past them.
      validateRequest: true,
    });
    this.#answers.set(key, answer);
    if (this.#answers.size > DECISION_CACHE_SIZE) this.#answers.delete(this.#answers.keys().next().value as string);
    if (this.#memo !== undefined) writeDecisions(this.#memo.dir, this.#memo.key, this.#answers);
    return answer;
  }

  #outcome(decision: PolicyDecision['decision'], deciding: readonly string[], diagnostics: CedarTypes.Diagnostics): PolicyDecision {
    const policyIds = [...deciding].sort();
    const reasons = policyIds.map((id) => this.#byId.get(id)?.reason ?? `policy ${id}`);
    if (decision === 'deny' && policyIds.length === 0) reasons.push('no policy permits this request (default deny)');
    // A policy whose evaluation failed (e.g. an arithmetic overflow) is skipped by Cedar: say so.
    const errors = diagnostics.errors.map((e) => `policy ${e.policyId} could not be evaluated: ${e.error.message}`);
    return { decision, policyIds, reasons, errors };
  }

  #malformed(errors: readonly CedarTypes.DetailedError[]): PolicyDecision {
    // Why deny: a request whose shape the policies were not validated against could slip past a forbid.
    return { decision: 'deny', policyIds: [], reasons: ['request does not fit the policy schema'], errors: errors.map((e) => e.message) };
  }
}
