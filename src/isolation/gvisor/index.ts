/** The `gvisor` isolation tier: runsc booting a hardened OCI bundle. */
export { GvisorDriver, hostPidsMax } from './driver.ts';
export type { GvisorDriverOptions } from './driver.ts';
export { GvisorSandbox } from './sandbox.ts';
export { buildOciSpec, checkSandboxPath, MASKED_PATHS, READONLY_PATHS, SANDBOX_UID, SHM_MB } from './oci-spec.ts';
export type { OciHostPaths, OciMount, OciSpec } from './oci-spec.ts';
export { fromWaitStatus, parseRunscFlags, workloadExit } from './runsc.ts';
