/** The controller's audit log, opened at start: its store, its key (created on first start), and a first head. */
import type { KeyObject } from 'node:crypto';
import type { AirlockConfig } from '../config/config.ts';
import type { AuditStore } from '../store/audit.ts';
import { controllerKeyPath, controllerPublicKeyPath, loadOrCreateControllerKey } from './controller-key.ts';
import { AuditLog } from './log.ts';

/** A controller's audit log and the key that signs its heads. */
export interface ControllerAudit {
  readonly log: AuditLog;
  readonly controllerKey: KeyObject;
  /** Where the key's public half is (what verifiers are given). */
  readonly publicKeyPath: string;
}

/** Opens the audit log on `store` with the controller key of `config` (created when missing). */
export async function openControllerAudit(config: Pick<AirlockConfig, 'audit'>, storePath: string, store: AuditStore): Promise<ControllerAudit> {
  const path = controllerKeyPath(config, storePath);
  const controllerKey = await loadOrCreateControllerKey(path);
  return { log: new AuditLog({ store, signingKey: controllerKey }), controllerKey, publicKeyPath: controllerPublicKeyPath(path) };
}
