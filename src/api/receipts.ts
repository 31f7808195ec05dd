/**
 * Receipts on what the API returns: an execution result carries the receipt of its
 * `execution.finished` record, an ended sandbox the receipt of its `sandbox.ended` record. A result
 * is returned even when its final record could not be written (the run already happened): its
 * receipt is then null, the failure is logged and the log reports itself unhealthy.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { AuditReceipt } from '../audit/receipt.ts';
import { executionFinishedEvent } from '../audit/service-record.ts';
import type { ExecutionResult } from '../sandbox/result.ts';
import type { ExecResult, SandboxInfo } from '../sandbox/service-types.ts';
import type { SandboxSpec } from '../policy/request.ts';
import type { RouteContext } from './context.ts';

/** Records a one-shot's end (what ran, in which spec, under which policy hash, how it ended) and returns its receipt. */
export async function executionReceipt(ctx: RouteContext, log: FastifyBaseLogger, owner: string, spec: SandboxSpec, result: ExecutionResult): Promise<AuditReceipt | null | undefined> {
  const audit = ctx.audit;
  if (audit === undefined) return undefined;
  try {
    const appended = await audit.append(executionFinishedEvent(owner, spec, result));
    return await audit.receipt(appended.index);
  } catch (err) {
    log.error({ err }, 'the execution ran but its final audit record could not be written');
    return null;
  }
}

/** Records how a command in a persistent sandbox ended and returns the receipt of that record. */
export async function execReceipt(ctx: RouteContext, log: FastifyBaseLogger, owner: string, sandboxId: string, execId: string, result: ExecResult): Promise<AuditReceipt | null | undefined> {
  const audit = ctx.audit;
  if (audit === undefined) return undefined;
  try {
    const appended = await audit.append({ kind: 'exec.finished', agentId: owner, sandboxId, data: { exec_id: execId, ...result } });
    return await audit.receipt(appended.index);
  } catch (err) {
    log.error({ err }, 'the command ran but its final audit record could not be written');
    return null;
  }
}

/** The receipt of an ended sandbox's final record; undefined while it runs or when no log is kept. */
export async function endedSandboxReceipt(ctx: RouteContext, log: FastifyBaseLogger, info: SandboxInfo): Promise<AuditReceipt | null | undefined> {
  const audit = ctx.audit;
  if (audit === undefined || info.state !== 'ended') return undefined;
  try {
    // The service reports the end as it happens; its record may still be on its way to disk.
    await audit.settled();
    const [ended] = await audit.query({ sandboxId: info.sandbox_id, kind: 'sandbox.ended', limit: 1 });
    return ended === undefined ? null : await audit.receipt(ended.index);
  } catch (err) {
    log.error({ err }, 'the receipt of an ended sandbox could not be made');
    return null;
  }
}
