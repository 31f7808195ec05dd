/** What every route module receives, and the in-flight gate that bounds concurrent sandbox work. */
import type { Admission } from '../admission/admission.ts';
import type { SandboxSpec } from '../policy/request.ts';
import type { AirlockMetrics } from '../observability/metrics.ts';
import type { SandboxServiceApi } from '../sandbox/service-types.ts';
import { ApiError } from './errors.ts';
import type { RequestPolicy } from './request-mapping.ts';
import type { AuditLog } from '../audit/log.ts';

/**
 * Bounds requests that hold a sandbox or an exec (execute, create, exec). Past the cap the request
 * is refused with 429 and Retry-After at once: waiting requests would be an unbounded queue.
 */
export class InflightGate {
  readonly max: number;
  readonly retryAfterSeconds: number;
  readonly #onRefused: (() => void) | undefined;
  #inflight = 0;

  constructor(max: number, retryAfterSeconds: number, onRefused?: () => void) {
    this.max = max;
    this.retryAfterSeconds = retryAfterSeconds;
    this.#onRefused = onRefused;
  }

  /** Whether every slot is taken. */
  get full(): boolean {
    return this.#inflight >= this.max;
  }

  /** The 429 at the cap, counted as a refusal: its code, message and Retry-After header. */
  refusal(): { code: 'capacity_exceeded'; message: string; headers: Record<string, string> } {
    this.#onRefused?.();
    return { code: 'capacity_exceeded', message: `too many concurrent sandbox requests (limit ${this.max}); retry later`, headers: { 'retry-after': String(this.retryAfterSeconds) } };
  }

  /** Throws 429 when every slot is taken; takes none. */
  refuseIfFull(): void {
    if (!this.full) return;
    const { code, message, headers } = this.refusal();
    throw new ApiError(code, message, headers);
  }

  /** Takes a slot or throws 429; the returned function frees it (calling it twice frees once). */
  acquire(): () => void {
    this.refuseIfFull();
    this.#inflight += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inflight -= 1;
    };
  }

  /** Requests holding a slot now. */
  get inflight(): number {
    return this.#inflight;
  }
}

/** Shared state of one app instance, handed to each route module. */
export interface RouteContext {
  service: SandboxServiceApi;
  /** The one admission path (Cedar, contracts, approvals) every route's request goes through. */
  admission: Admission;
  /** Which ways of authenticating are on, as /health reports them. */
  authentication: { unix_socket: boolean; signed_requests: boolean; unsigned_loopback: boolean };
  /** Policy spec of running one-shots by execution id, for deciding who may cancel them. */
  oneShotTargets: Map<string, { owner: string; spec: SandboxSpec }>;
  metrics: AirlockMetrics;
  policy: RequestPolicy;
  gate: InflightGate;
  /** Bounds concurrent file uploads, taken before the body is read (bodies are buffered). */
  uploadGate: InflightGate;
  /** Largest JSON body accepted, bytes. */
  jsonBodyLimit: number;
  /** Largest file body accepted by PUT …/files, bytes. */
  fileBodyLimit: number;
  /** Cap per stream (stdout, stderr) of exec output collected for the JSON mode, bytes. */
  maxCollectedOutputBytes: number;
  /** The audit log: receipts on results, the audit status in /health; undefined when not kept. */
  audit?: AuditLog | undefined;
}
