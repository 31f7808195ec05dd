/**
 * What `airlock run` keeps in the controller's store: the same admission path as the API's (so a
 * revoked agent or a contract holds for local runs too) and the same audit log, where the decision
 * is durable before the command starts and its end is recorded with a receipt. Opened while the
 * run is planned, so the store's start-up overlaps the rest.
 */
import type { AirlockConfig } from '../config/config.ts';
import type { AuditLog } from '../audit/log.ts';
import type { AuditReceipt } from '../audit/receipt.ts';
import type { ControlStore } from '../store/index.ts';
import type { ExecutionResult } from '../sandbox/result.ts';
import type { SandboxSpec } from '../policy/request.ts';

/** The store and audit log a run records in. */
export interface RunRecording {
  readonly store: ControlStore;
  readonly audit: AuditLog;
  /** Closes the log's store (PostgreSQL's pool) and the control store. */
  close(): Promise<void>;
}

/**
 * Opens the configured store and audit log, signing heads with the controller key (created when
 * missing, as `serve` does). Why every run: without the store a local run would skip revocation,
 * contracts and the audit log that every API request goes through.
 */
export async function openRunRecording(config: AirlockConfig): Promise<RunRecording> {
  const [{ openStore, storePath }, { openAuditStore }, { AuditLog }, { controllerKeyPath, loadOrCreateControllerKey }] = await Promise.all([
    import('../store/index.ts'),
    import('../audit/open.ts'),
    import('../audit/log.ts'),
    import('../audit/controller-key.ts'),
  ]);
  const store = await openStore(config);
  try {
    const [opened, signingKey] = await Promise.all([openAuditStore(config, store.audit), loadOrCreateControllerKey(controllerKeyPath(config, storePath(config)))]);
    return {
      store,
      audit: new AuditLog({ store: opened.store, signingKey }),
      close: async () => {
        await opened.close();
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}

/**
 * Records how the run ended (the `execution.finished` record the API writes for a one-shot) and
 * returns its receipt; null, with the reason on stderr, when it could not be written: the command
 * already ran, so its result is still reported.
 */
export async function recordRunEnd(recording: RunRecording, owner: string, spec: SandboxSpec, result: ExecutionResult): Promise<AuditReceipt | null> {
  const { executionFinishedEvent } = await import('../audit/service-record.ts');
  try {
    const appended = await recording.audit.append(executionFinishedEvent(owner, spec, result));
    return await recording.audit.receipt(appended.index);
  } catch (err) {
    process.stderr.write(`airlock: the run ended but its audit record could not be written: ${(err as Error).message}\n`);
    return null;
  }
}
