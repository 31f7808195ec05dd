/** A sandbox spec with the built-in defaults, for the tests of policy decisions. */
import type { SandboxSpec } from './request.ts';

/** The default image, no network, no grants, the default limits. */
export const DEFAULT_TEST_SPEC: SandboxSpec = Object.freeze({
  runtime: 'namespace',
  image: 'default',
  network: Object.freeze({ mode: 'none', allowedHosts: Object.freeze([]) as readonly string[] }),
  mounts: Object.freeze([]),
  limits: Object.freeze({ memoryMb: 512, cpuCores: 0.5, pids: 256, timeoutSeconds: 300, scratchMb: 64, outputBytes: 10_485_760, openFiles: 1024 }),
}) as SandboxSpec;
