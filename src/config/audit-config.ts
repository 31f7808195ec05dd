/** Configuration of the audit log (`audit`): the controller's signing key and how often heads are signed. */
import type { z as Zod } from 'zod';

/** Audit settings. */
export interface AuditConfig {
  /**
   * The controller's Ed25519 private key (PKCS#8 PEM, mode 0600) that signs tree heads; its public
   * half is FILE.pub. null: `controller.key` beside the store. Created on first start when missing.
   */
  keyFile: string | null;
  /** Seconds between signed heads while the log grows (heads are also signed on demand). */
  headIntervalSeconds: number;
  /**
   * `full` (default): each append is synced to disk before the action it records proceeds, so it
   * survives a power cut. `normal`: it survives a controller crash or kill -9 but not a host crash,
   * at a fraction of the latency (no fsync per commit).
   */
  sync: 'full' | 'normal';
  /**
   * A PostgreSQL connection string: the log lives there instead of the SQLite store, so several
   * controllers share one log. null (default): the embedded SQLite store.
   */
  postgresUrl: string | null;
}

/** Default: the key beside the store, a head a minute. */
export const DEFAULT_AUDIT_CONFIG: Readonly<AuditConfig> = Object.freeze({ keyFile: null, headIntervalSeconds: 60, sync: 'full', postgresUrl: null });

/** The zod schema of `audit`. */
export function auditSchema(z: typeof Zod) {
  return z
    .object({
      keyFile: z
        .string()
        .regex(/^\/./, 'an absolute file path')
        .nullable()
        .default(null)
        .describe('Ed25519 private key (PKCS#8 PEM, 0600) that signs audit tree heads; FILE.pub is its public half. null: controller.key in the store directory. Created on first start.'),
      headIntervalSeconds: z
        .number()
        .int()
        // Why bounded: a head is what a tampering is detected against; hours between heads is hours unproven.
        .min(1)
        .max(3600)
        .default(DEFAULT_AUDIT_CONFIG.headIntervalSeconds)
        .describe('Seconds between signed tree heads while the log grows (1 to 3600; default 60). Heads are also signed on demand.'),
      sync: z
        .enum(['full', 'normal'])
        .default(DEFAULT_AUDIT_CONFIG.sync)
        .describe('full (default): every record is synced to disk before the action it records proceeds (survives a power cut). normal: it survives a controller crash or kill -9, not a host crash, without an fsync per append.'),
      postgresUrl: z
        .string()
        .regex(/^postgres(ql)?:\/\/\S+$/, 'a postgres:// connection string')
        .nullable()
        .default(null)
        .describe('PostgreSQL connection string: keep the audit log there (several controllers share one log). null: the embedded SQLite store. It may hold a password: keep the configuration file private.'),
    })
    .strict()
    .default({ ...DEFAULT_AUDIT_CONFIG });
}
