/**
 * Everything sandboxes can leave on a host, listed for the configured run directory, cgroup parent
 * and uid range: ownership records, uid leases, cgroups, gVisor mounts, and processes running as a
 * sandbox uid or as one of its runsc instances. Used by tests, benchmarks and `airlock doctor`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { AirlockConfig } from '../config/config.ts';
import { detectCgroups } from './cgroups/index.ts';

type Scope = Pick<AirlockConfig, 'runDir' | 'cgroupParent' | 'hostUidBase' | 'hostUidCount'>;

/** One line per leftover; empty when the host is clean. */
export function findLeftovers(config: Scope): string[] {
  return [...records(config), ...cgroups(config), ...mounts(config), ...processes(config)];
}

function list(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

function records(config: Scope): string[] {
  return [
    ...list(`${config.runDir}/owners`).map((n) => `owner record ${n}`),
    ...list(`${config.runDir}/uids`).map((n) => `uid lease ${n}`),
  ];
}

function cgroups(config: Scope): string[] {
  const layout = detectCgroups();
  const roots = layout.version === 2 ? [layout.mountPoint] : [...new Set(Object.values(layout.mounts))];
  const found: string[] = [];
  for (const root of roots) {
    const dir = `${root}/${config.cgroupParent}`;
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) found.push(`cgroup ${dir}/${entry.name}`);
  }
  return found;
}

function mounts(config: Scope): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line.includes(`${config.runDir}/gvisor/`))
    .map((line) => `mount ${line.split(' ')[4] ?? line}`);
}

function processes(config: Scope): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      // A zombie holds nothing but its pid until the host's init collects it.
      if (/^State:\s+Z/m.test(status)) continue;
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      if (uid >= config.hostUidBase && uid < config.hostUidBase + config.hostUidCount) found.push(`process ${pid} as sandbox uid ${uid}`);
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes('runsc') && cmd.includes(`${config.runDir}/gvisor/`)) found.push(`runsc process ${pid}`);
    } catch {
      // Exited while we looked.
    }
  }
  return found;
}
