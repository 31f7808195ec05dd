/**
 * The service's book of persistent sandboxes: live ones, and recently ended ones so that a
 * caller can still learn why a sandbox ended. Ended entries are forgotten after a while.
 */
import type { GrantedMount, RuntimeName } from '../isolation/driver.ts';
import type { PersistentSandbox } from './persistent.ts';
import type { SandboxInfo, SandboxOwnership } from './service-types.ts';
import { IdleTimer } from './idle.ts';

/** How long an ended sandbox stays visible, and how many are kept at most. */
const ENDED_RETENTION_MS = 10 * 60 * 1000;
const ENDED_MAX = 1000;

export interface SandboxRecord {
  sandbox: PersistentSandbox;
  runtime: RuntimeName;
  imageName: string;
  metadata: Record<string, string>;
  /** Environment added to every exec of this sandbox. */
  env: Record<string, string>;
  /** Tenancy id of the principal that created it: its owner. */
  agentId: string;
  /** Host grants it was created with (the policy view needs them). */
  mounts: readonly GrantedMount[];
  createdAt: number;
  expiresAt: number;
  /** The idle timeout, when it has one. */
  idle: IdleTimer | undefined;
  pooled: boolean;
  /** Internal services the sandbox was granted. */
  services: string[];
  /** Allowlist changes made through the API while it ran (kept for the audit trail). */
  allowlistChanges: { at: string; allowed_hosts: string[] }[];
  endedAt: number | undefined;
}

export type RecordFields = Pick<SandboxRecord, 'runtime' | 'imageName' | 'metadata' | 'env' | 'agentId' | 'mounts' | 'pooled' | 'services'> & { ttlSeconds: number; idleTimeoutSeconds?: number | undefined };

/**
 * Why kept apart, not filtered from every record: the capacity check on each create and the
 * reaper's pass each second then cost the same with 1,000 sandboxes held as with none.
 */
export class SandboxRegistry {
  private readonly records = new Map<string, SandboxRecord>();
  /** Records whose sandbox has not stopped (`endReason` unset), in creation order. */
  private readonly live = new Set<SandboxRecord>();
  /** Records of ended sandboxes, oldest end first (Map order is insertion order, and ends come in time order). */
  private readonly ended = new Map<string, SandboxRecord>();

  /** Registers a started sandbox; its end is recorded when it happens. */
  add(sandbox: PersistentSandbox, fields: RecordFields): SandboxRecord {
    const now = Date.now();
    const { ttlSeconds, idleTimeoutSeconds, ...rest } = fields;
    const idle = idleTimeoutSeconds === undefined ? undefined : new IdleTimer(idleTimeoutSeconds, now);
    const record: SandboxRecord = { sandbox, ...rest, allowlistChanges: [], createdAt: now, expiresAt: now + ttlSeconds * 1000, idle, endedAt: undefined };
    this.records.set(sandbox.id, record);
    if (sandbox.endReason === undefined) this.live.add(record);
    sandbox.onEnding(() => this.live.delete(record));
    sandbox.onEnd(() => {
      record.endedAt = Date.now();
      this.ended.set(sandbox.id, record);
    });
    return record;
  }

  find(id: string): SandboxRecord | undefined {
    return this.records.get(id);
  }

  all(): SandboxRecord[] {
    return [...this.records.values()];
  }

  /** Records of the sandboxes still running, in creation order. */
  running(): SandboxRecord[] {
    return [...this.live];
  }

  /** How many sandboxes are running (what `running().length` says, without building the list). */
  get runningCount(): number {
    return this.live.size;
  }

  /** Drops ended sandboxes past the retention window (and the oldest past the count cap). */
  forgetOld(now: number): void {
    for (const [id, record] of this.ended) {
      if (now - (record.endedAt ?? now) <= ENDED_RETENTION_MS && this.ended.size <= ENDED_MAX) break;
      this.ended.delete(id);
      this.records.delete(id);
    }
  }

  /** What policy decides an action on this sandbox with: its owner and what it was created with. */
  ownership(record: SandboxRecord): SandboxOwnership {
    const { sandbox } = record;
    return {
      owner: record.agentId,
      spec: {
        runtime: record.runtime,
        image: record.imageName,
        network: { mode: sandbox.network.mode, allowedHosts: sandbox.network.allowedHosts() },
        mounts: record.mounts,
        limits: sandbox.limits,
        ...(sandbox.secretNames.length === 0 ? {} : { secrets: sandbox.secretNames }),
      },
    };
  }

  /** The wire view of a record. */
  info(record: SandboxRecord): SandboxInfo {
    const { sandbox } = record;
    return {
      sandbox_id: sandbox.id,
      owner: record.agentId,
      runtime: record.runtime,
      accelerator: sandbox.accelerator,
      image: record.imageName,
      image_digest: sandbox.image.digest,
      image_signer: sandbox.image.signer ?? null,
      state: sandbox.endReason === undefined ? 'running' : 'ended',
      created_at: new Date(record.createdAt).toISOString(),
      expires_at: new Date(record.expiresAt).toISOString(),
      idle_timeout_seconds: record.idle === undefined ? null : record.idle.idleMs / 1000,
      metadata: record.metadata,
      limits: {
        memory_limit_mb: sandbox.limits.memoryMb,
        cpu_limit: sandbox.limits.cpuCores,
        pids_limit: sandbox.limits.pids,
        scratch_mb: sandbox.limits.scratchMb,
        timeout_seconds: sandbox.limits.timeoutSeconds,
      },
      pooled: record.pooled,
      network_policy: sandbox.network.mode,
      allowed_hosts: sandbox.network.allowedHosts(),
      ...(sandbox.secretNames.length === 0 ? {} : { secrets: [...sandbox.secretNames] }),
      security_violations: sandbox.securityViolations(),
      end_reason: sandbox.endReason ?? null,
      ended_at: record.endedAt === undefined ? null : new Date(record.endedAt).toISOString(),
    };
  }
}
