export { detectCgroups, layoutFromMountInfo, parseMountInfo, REQUIRED_CONTROLLERS } from './detect.ts';
export type { CgroupLayout, Controller } from './detect.ts';
export { SandboxCgroup, readKeyedCounter, removeEmptyParent, v2PidsLimitHits } from './sandbox-cgroup.ts';
export type { CgroupSample } from './sandbox-cgroup.ts';
