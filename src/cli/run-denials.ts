/**
 * What `airlock run` reports of a sandbox's refused calls: the same as the service's one-shots —
 * seccomp denials (namespace: the host audit reader; gVisor: its own kernel's log), writes the
 * mounts refuse and runtime-socket probes (namespace write watcher), answered by
 * `violations.response`.
 */
import type { AirlockConfig } from '../config/config.ts';
import type { DenialReporting } from '../sandbox/denials/run-denials.ts';

/** A run's denial reporting and what releases it. */
export interface RunDenialReporting {
  readonly reporting: DenialReporting;
  close(): void;
}

/**
 * Starts what `runtime` needs to report denials. Fails closed (naming `seccomp-audit`) where the
 * host audit reader can't start: a namespace sandbox whose denials nobody would see doesn't start,
 * as under `airlock serve`. A `kill_and_revoke` response kills here; revoking needs the controller.
 */
export async function openRunDenials(config: AirlockConfig, runtime: string): Promise<RunDenialReporting> {
  const base = { policy: config.violations.response, watchWrites: config.violations.watchWrites !== false };
  // Why no host reader for gVisor: its sandbox kernel enforces the profile and reports its own denials.
  if (runtime !== 'namespace') return { reporting: base, close: () => undefined };
  const { DenialWatch, ensureSeccompAuditHelper } = await import('../sandbox/denials/watch.ts');
  const watch = await DenialWatch.start((await ensureSeccompAuditHelper(config.stateDir)).path);
  return { reporting: { ...base, watch }, close: () => watch.close() };
}
