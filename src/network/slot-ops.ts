/**
 * What only attached networks (`restricted`, `full`) use: slots, their links and rules, full
 * mode's host settings, the proxy's environment and the reaper. The manager loads this on first
 * use, so a `none` sandbox (most one-shot `airlock run`s) never loads it.
 */
export { checkResolvers, enableForwarding, resolvConfFor } from './full-mode.ts';
export { proxyEnv } from './proxy-env.ts';
export { reapNetworks } from './reap.ts';
export { applySlotMode, createSlotLink, netnsPath, releaseSlot } from './slot-network.ts';
export { leaseSlot } from './slots.ts';
