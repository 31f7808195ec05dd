/**
 * Finds how this host exposes cgroups: the unified v2 hierarchy, or v1 per-controller hierarchies
 * (hybrid hosts mount both; v1 controllers win there because v2 has none of them).
 */
import { readFileSync } from 'node:fs';
import { ControlError } from '../../host/control-error.ts';

/** The controllers every sandbox is limited by. */
export const REQUIRED_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids'] as const;
export type Controller = (typeof REQUIRED_CONTROLLERS)[number];

export type CgroupLayout =
  | { version: 2; mountPoint: string; controllers: string[] }
  | { version: 1; mounts: Record<Controller, string>; controllers: string[] };

interface MountEntry {
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

/** Parses /proc/self/mountinfo lines into the fields we need. */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    const mountPoint = left.split(' ')[4];
    const [fsType, , superOptions] = right.split(' ');
    if (mountPoint === undefined || fsType === undefined) continue;
    entries.push({ mountPoint: unescapeMountPath(mountPoint), fsType, superOptions: (superOptions ?? '').split(',') });
  }
  return entries;
}

function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Chooses the cgroup layout from mountinfo text; exported for tests. */
export function layoutFromMountInfo(mountInfo: string, readControllers: (path: string) => string): CgroupLayout {
  const mounts = parseMountInfo(mountInfo);
  const v1: Partial<Record<Controller, string>> = {};
  for (const m of mounts) {
    if (m.fsType !== 'cgroup') continue;
    for (const c of REQUIRED_CONTROLLERS) if (m.superOptions.includes(c) && v1[c] === undefined) v1[c] = m.mountPoint;
  }
  const missingV1 = REQUIRED_CONTROLLERS.filter((c) => v1[c] === undefined);
  if (missingV1.length === 0) {
    return { version: 1, mounts: v1 as Record<Controller, string>, controllers: [...REQUIRED_CONTROLLERS] };
  }
  const unified = mounts.find((m) => m.fsType === 'cgroup2');
  if (unified !== undefined) {
    const controllers = readControllers(`${unified.mountPoint}/cgroup.controllers`).trim().split(/\s+/).filter(Boolean);
    // v2 folds cpuacct into cpu.
    const missing = ['memory', 'cpu', 'pids'].filter((c) => !controllers.includes(c));
    if (missing.length === 0) return { version: 2, mountPoint: unified.mountPoint, controllers };
    if (missingV1.length === REQUIRED_CONTROLLERS.length) {
      throw new ControlError('cgroups', `cgroup v2 at ${unified.mountPoint} lacks the ${missing.join(', ')} controller(s)`);
    }
  }
  throw new ControlError('cgroups', `no cgroup hierarchy offers the ${missingV1.join(', ')} controller(s)`);
}

/** Detects the host's cgroup layout; throws a ControlError naming `cgroups` when limits can't be enforced. */
export function detectCgroups(): CgroupLayout {
  let mountInfo: string;
  try {
    mountInfo = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch (err) {
    throw new ControlError('cgroups', 'cannot read /proc/self/mountinfo', { cause: err });
  }
  return layoutFromMountInfo(mountInfo, (p) => readFileSync(p, 'utf8'));
}
