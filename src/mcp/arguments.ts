/**
 * Input validation of a tools/call: the arguments object is held to size and depth limits, then
 * validated against the tool's pinned inputSchema with ajv. A violation is refused before the
 * server sees the call.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { McpRefusal } from './refusal.ts';

/** Size limits of an arguments object. */
export interface ArgumentLimits {
  /** Bytes of its JSON text. */
  bytes: number;
  /** Deepest nesting (the object itself is depth 1). */
  depth: number;
}

/**
 * The nesting depth of `value`, counted without recursion (a hostile value can't overflow the
 * stack), stopping as soon as `limit` is passed.
 */
export function depthOf(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: { v: unknown; d: number }[] = [{ v: value, d: 1 }];
  while (stack.length > 0) {
    const { v, d } = stack.pop() as { v: unknown; d: number };
    if (v === null || typeof v !== 'object') continue;
    if (d > deepest) deepest = d;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push({ v: child, d: d + 1 });
  }
  return deepest;
}

/** Validators of pinned schemas, compiled once per schema digest. One per proxy. */
export class ArgumentValidator {
  readonly #limits: ArgumentLimits;
  // Why strict off: published tool schemas use keywords ajv's strict mode rejects (e.g. "title" in
  // odd places); an unknown keyword is ignored, a schema that does not compile refuses every call.
  readonly #draft7 = new Ajv({ strict: false, allErrors: false, validateFormats: false });
  readonly #draft2020 = new Ajv2020({ strict: false, allErrors: false, validateFormats: false });
  readonly #compiled = new Map<string, ValidateFunction | Error>();

  constructor(limits: ArgumentLimits) {
    this.#limits = limits;
  }

  /**
   * Checks `args` (the call's `arguments`, absent is `{}`) against `schema`, pinned under `digest`;
   * throws an McpRefusal naming the first problem.
   */
  check(args: unknown, schema: unknown, digest: string): Record<string, unknown> {
    const value = args ?? {};
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new McpRefusal('invalid_arguments', 'arguments must be a JSON object');
    const bytes = Buffer.byteLength(JSON.stringify(value));
    // Why before the schema: a huge or deeply nested value must not reach the validator's recursion.
    if (bytes > this.#limits.bytes) throw new McpRefusal('arguments_too_large', `${bytes} bytes, the limit is ${this.#limits.bytes}`);
    const depth = depthOf(value, this.#limits.depth);
    if (depth > this.#limits.depth) throw new McpRefusal('arguments_too_large', `nested deeper than ${this.#limits.depth} levels`);
    const validate = this.#validator(schema, digest);
    if (validate instanceof Error) throw new McpRefusal('invalid_arguments', `the pinned input schema does not compile (${validate.message}); the tool can't be called`);
    if (!validate(value)) {
      const e = validate.errors?.[0];
      const where = e === undefined || e.instancePath === '' ? 'arguments' : `arguments${e.instancePath}`;
      throw new McpRefusal('invalid_arguments', `${where} ${e?.message ?? 'is invalid'}`, { schema_path: e?.schemaPath ?? null });
    }
    return value as Record<string, unknown>;
  }

  #validator(schema: unknown, digest: string): ValidateFunction | Error {
    let compiled = this.#compiled.get(digest);
    if (compiled === undefined) {
      try {
        if (typeof schema !== 'object' || schema === null) throw new Error('not a JSON Schema object');
        const draft = (schema as { $schema?: unknown }).$schema;
        const ajv = typeof draft === 'string' && draft.includes('2020-12') ? this.#draft2020 : this.#draft7;
        // Why without $id: ajv registers schemas by id, and two servers' schemas may share one.
        const { $id: _id, ...anonymous } = schema as Record<string, unknown>;
        compiled = ajv.compile(anonymous);
      } catch (err) {
        compiled = err instanceof Error ? err : new Error(String(err));
      }
      this.#compiled.set(digest, compiled);
    }
    return compiled;
  }
}
