/**
 * The one-shot executions a service is running, by execution id, and the ones that ended
 * recently: what `status()` lists, what `cancelExecution(id)` finds, and how a late cancel is told
 * apart from a wrong id. An entry exists from admission until the run has ended and its sandbox
 * and network are torn down.
 */
import type { ImplementedRuntime } from '../isolation/drivers.ts';
import { ServiceError } from './errors.ts';
import type { ExecutionResult, SecurityViolation, TerminationReason } from './result.ts';
import type { CancelledExecution } from './service-types.ts';

/** How many ended executions are remembered for a late cancel (oldest forgotten first). */
const REMEMBERED_ENDED = 1024;

/** One running one-shot. */
export interface RunningOneShot {
  readonly executionId: string;
  readonly agentId: string;
  readonly runtime: ImplementedRuntime;
  /** Date.now() at admission. */
  readonly started: number;
  readonly controller: AbortController;
  /** Violations found outside the sandbox while it runs (egress, contract), added to its result. */
  readonly violations: SecurityViolation[];
  /** Settles once the run has ended and been torn down (never rejects). */
  readonly ended: Promise<ExecutionResult | undefined>;
}

/** Running one-shots and the recently ended ones, for one service. */
export class OneShotRegistry {
  readonly #running = new Map<string, RunningOneShot>();
  readonly #ended = new Map<string, TerminationReason | 'refused'>();

  /** Registers an admitted run; it stays listed until `result` settles. */
  add(entry: Omit<RunningOneShot, 'ended'>, result: Promise<ExecutionResult>): RunningOneShot {
    const ended = result.then(
      (r) => r,
      () => undefined,
    );
    const running: RunningOneShot = { ...entry, ended };
    this.#running.set(entry.executionId, running);
    void ended.then((r) => this.#finish(entry.executionId, r?.termination_reason ?? 'refused'));
    return running;
  }

  /** Running one-shots, oldest first. */
  running(): RunningOneShot[] {
    return [...this.#running.values()];
  }

  get size(): number {
    return this.#running.size;
  }

  /**
   * Cancels a running one-shot and resolves once it has ended and been torn down. An id that ended
   * recently is `execution_not_running` (409); any other, `execution_not_found` (404).
   */
  async cancel(executionId: string): Promise<CancelledExecution> {
    const entry = this.#running.get(executionId);
    if (entry === undefined) {
      const reason = this.#ended.get(executionId);
      if (reason !== undefined) {
        throw new ServiceError('execution_not_running', `execution ${executionId} has already ended (${reason === 'refused' ? 'refused before it ran' : reason}); its result went to the request that started it`);
      }
      throw new ServiceError('execution_not_found', `no running execution ${executionId}`);
    }
    entry.controller.abort();
    const result = await entry.ended;
    if (result === undefined) throw new ServiceError('execution_not_running', `execution ${executionId} was refused before it ran`);
    return { execution_id: executionId, agent_id: entry.agentId, runtime: entry.runtime, termination_reason: result.termination_reason };
  }

  /** Cancels every running one-shot (shutdown) and waits until they are torn down. */
  async cancelAll(): Promise<void> {
    const all = this.running();
    for (const entry of all) entry.controller.abort();
    await Promise.all(all.map((e) => e.ended));
  }

  #finish(executionId: string, reason: TerminationReason | 'refused'): void {
    this.#running.delete(executionId);
    this.#ended.set(executionId, reason);
    if (this.#ended.size > REMEMBERED_ENDED) {
      const oldest = this.#ended.keys().next().value;
      if (oldest !== undefined) this.#ended.delete(oldest);
    }
  }
}
