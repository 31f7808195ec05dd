/**
 * Controller-side views of the host: namespaces, the process table, cgroup hierarchies, and the
 * leftover check of T22 (no cgroup, process, mount, uid lease or runtime state of a sandbox remains).
 * Read-only: nothing here changes the host.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import type { AirlockConfig } from '../../../src/config/config.ts';
import { detectCgroups, parseMountInfo } from '../../../src/isolation/cgroups/index.ts';
import { slotSpace } from '../../../src/network/slots.ts';

/** The namespaces T20 compares. */
export const NAMESPACE_KINDS = ['pid', 'mnt', 'net', 'ipc', 'uts', 'user', 'cgroup'] as const;
/** One of {@link NAMESPACE_KINDS}. */
export type NamespaceKind = (typeof NAMESPACE_KINDS)[number];

/** `kind:[inode]` links of a process's namespaces ('self' for this process); missing ones are absent. */
export function namespacesOf(pid: number | 'self'): Partial<Record<NamespaceKind, string>> {
  const out: Partial<Record<NamespaceKind, string>> = {};
  for (const kind of NAMESPACE_KINDS) {
    try {
      out[kind] = readlinkSync(`/proc/${pid}/ns/${kind}`);
    } catch {
      // Process gone or namespace kind not supported by this kernel.
    }
  }
  return out;
}

/** One host process. */
export interface HostProcess {
  pid: number;
  ppid: number;
  /** Real, effective, saved and filesystem uids from /proc/PID/status. */
  uids: number[];
  comm: string;
  cmdline: string[];
  /** One-letter state from /proc/PID/status (R, S, D, Z, …). */
  state: string;
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

/** Fields of /proc/PID/status, by key. */
export function statusOf(pid: number): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of readOr(`/proc/${pid}/status`, '').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) map.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return map;
}

/** A snapshot of every process on the host (processes that vanish while reading are skipped). */
export function processTable(): HostProcess[] {
  const out: HostProcess[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const status = statusOf(pid);
    const uid = status.get('Uid');
    const ppid = status.get('PPid');
    if (uid === undefined || ppid === undefined) continue;
    out.push({
      pid,
      ppid: Number(ppid),
      uids: uid.split(/\s+/).map(Number),
      comm: readOr(`/proc/${pid}/comm`, '').trim(),
      cmdline: readOr(`/proc/${pid}/cmdline`, '').split('\0').filter(Boolean),
      state: (status.get('State') ?? '?').charAt(0),
    });
  }
  return out;
}

/** Every process descending from `root` (not `root` itself). */
export function descendantsOf(root: number, table: HostProcess[] = processTable()): HostProcess[] {
  const children = new Map<number, HostProcess[]>();
  for (const p of table) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const out: HostProcess[] = [];
  const queue = [root];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    for (const child of children.get(pid) ?? []) {
      out.push(child);
      queue.push(child.pid);
    }
  }
  return out;
}

/** Mount points of every cgroup (v1) and cgroup2 hierarchy, plus those detectCgroups() chose. */
export function cgroupHierarchies(): string[] {
  const roots = new Set<string>();
  for (const m of parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'))) {
    if (m.fsType === 'cgroup' || m.fsType === 'cgroup2') roots.add(m.mountPoint);
  }
  try {
    const layout = detectCgroups();
    if (layout.version === 2) roots.add(layout.mountPoint);
    else for (const dir of Object.values(layout.mounts)) roots.add(dir);
  } catch {
    // No usable layout: the mountinfo scan above still covers every hierarchy there is.
  }
  return [...roots];
}

/** Mount points in this mount namespace. */
export function mountPoints(): string[] {
  return parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8')).map((m) => m.mountPoint);
}

/** Host state that must be back to what it was once every sandbox is gone. */
export interface HostBaseline {
  mounts: Set<string>;
  netns: Set<string>;
  links: Set<string>;
  nftTables: Set<string>;
}

/** Records mounts, named network namespaces, links and nft tables before sandboxes run. */
export function hostBaseline(): HostBaseline {
  return { mounts: new Set(mountPoints()), netns: new Set(listNames('/run/netns')), links: new Set(listNames('/sys/class/net')), nftTables: new Set(nftTables()) };
}

/** One network object of a slot space: a namespace, host link, nft table or slot lease. */
export interface NetworkPiece {
  kind: 'named netns' | 'network link' | 'nft table' | 'slot lease';
  name: string;
}

/**
 * The network objects of `config`'s own slot space (network.instance) present on the host: only
 * names of that space (prefix + slot number), never another controller's, live or not.
 */
export function ownNetworkPieces(config: AirlockConfig): NetworkPiece[] {
  const space = slotSpace(config.network.instance);
  const own = (prefix: string) => (name: string) => name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length));
  return [
    ...listNames('/run/netns').filter(own(space.netns)).map((name) => ({ kind: 'named netns' as const, name })),
    ...listNames('/sys/class/net').filter(own(space.link)).map((name) => ({ kind: 'network link' as const, name })),
    ...nftTables().filter((t) => t.startsWith('inet ') && own(space.netns)(t.slice(5))).map((t) => ({ kind: 'nft table' as const, name: t.slice(5) })),
    ...listNames(space.leaseDir).map((name) => ({ kind: 'slot lease' as const, name: `${space.leaseDir}/${name}` })),
  ];
}

/** `family name` of every nft table on the host (empty when nft is missing). */
export function nftTables(): string[] {
  const out = spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' });
  return out.status === 0 ? out.stdout.split('\n').filter((l) => l.startsWith('table ')).map((l) => l.slice(6)) : [];
}

function listNames(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Whether any of the process's uids is in this suite's private sandbox uid range. */
function inUidRange(config: AirlockConfig, p: HostProcess): boolean {
  return p.uids.some((u) => u >= config.hostUidBase && u < config.hostUidBase + config.hostUidCount);
}

/**
 * Every process running with a uid of this suite's private range, as `pid N uid U`: zombies too,
 * except those already handed to the host's init (parent 1). Why those are not leftovers: they have
 * exited, and only init can reap them; bubblewrap's monitor exits as soon as its pid-1 child reports
 * the command's end, so that child is briefly such a zombie on every host.
 */
export function processesInUidRange(config: AirlockConfig, table: HostProcess[] = processTable()): string[] {
  return table.filter((p) => inUidRange(config, p) && !(p.state === 'Z' && p.ppid === 1)).map((p) => `pid ${p.pid} uid ${p.uids.join('/')}`);
}

/** Processes this suite's sandboxes may have left: in the private uid range, or naming the run dir. */
function ownSandboxProcesses(config: AirlockConfig, table: HostProcess[]): HostProcess[] {
  return table.filter((p) => p.pid !== process.pid && p.state !== 'Z' && (inUidRange(config, p) || p.cmdline.some((a) => a.includes(config.runDir))));
}

/** SIGKILLs, by pid, every process this suite's sandboxes left; waits up to 2 s; returns the pids. */
export async function killOwnLeftovers(config: AirlockConfig): Promise<number[]> {
  const pids = ownSandboxProcesses(config, processTable()).map((p) => p.pid);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  for (let i = 0; i < 200 && ownSandboxProcesses(config, processTable()).length > 0; i++) await new Promise((r) => setTimeout(r, 10));
  return pids;
}

/**
 * Everything a finished sandbox left behind, one line per item (empty when clean): cgroups under
 * the configured parent in every hierarchy, processes of this controller or in the sandbox uid
 * range or naming the run directory, new mounts, the namespaces, links, nft tables and slot leases
 * of this configuration's own slot space (never another controller's), uid leases, owner records,
 * and runtime state dirs.
 */
export function findLeftovers(config: AirlockConfig, baseline: HostBaseline, extraPaths: string[] = []): string[] {
  const problems: string[] = [];
  for (const root of cgroupHierarchies()) {
    const parent = `${root}/${config.cgroupParent}`;
    for (const name of listNames(parent)) {
      if (isDir(`${parent}/${name}`)) problems.push(`cgroup left: ${parent}/${name}`);
    }
  }
  const table = processTable();
  const uidEnd = config.hostUidBase + config.hostUidCount;
  const seen = new Set<number>();
  const report = (p: HostProcess, why: string) => {
    if (seen.has(p.pid)) return;
    seen.add(p.pid);
    problems.push(`process left (${why}): pid ${p.pid} uid ${p.uids.join('/')} ${p.comm}: ${p.cmdline.join(' ').slice(0, 200)}`);
  };
  for (const p of descendantsOf(process.pid, table)) report(p, p.state === 'Z' ? UNREAPED : 'child of this controller');
  for (const p of table) {
    // A zombie handed to another reaper (the host's init) has already exited and holds nothing
    // but its pid entry; it is not a sandbox process that survived. Zombies of this controller
    // are still reported above (the controller failed to reap them).
    if (p.state === 'Z' && p.ppid !== process.pid) continue;
    if (p.uids.some((u) => u >= config.hostUidBase && u < uidEnd)) report(p, 'sandbox host uid');
    if (p.pid !== process.pid && p.cmdline.some((a) => a.includes(config.runDir))) report(p, 'names the run directory');
  }
  // Only mounts under this suite's own directories: other processes on the host may mount things.
  const watched = [config.runDir, ...extraPaths];
  for (const point of mountPoints()) {
    const under = watched.some((d) => point === d || point.startsWith(`${d}/`));
    if (under && !baseline.mounts.has(point)) problems.push(`mount left: ${point}`);
  }
  problems.push(...ownNetworkPieces(config).filter((p) => !baseline.netns.has(p.name) && !baseline.links.has(p.name) && !baseline.nftTables.has(`inet ${p.name}`)).map((p) => `${p.kind} left: ${p.name}`));
  for (const name of listNames(`${config.runDir}/uids`)) problems.push(`uid lease left: ${config.runDir}/uids/${name}`);
  for (const name of listNames(`${config.runDir}/owners`)) problems.push(`owner record left: ${config.runDir}/owners/${name}`);
  problems.push(...gvisorStateLeft(`${config.runDir}/gvisor`));
  return problems;
}

/**
 * Bundle, scratch and runsc state left under the gvisor run directory. The runsc `--root`
 * directory itself may remain, but only empty.
 */
function gvisorStateLeft(dir: string): string[] {
  const out: string[] = [];
  for (const name of listNames(dir)) {
    const path = `${dir}/${name}`;
    const inside = isDir(path) ? listNames(path) : [];
    if (isRunscRoot(name) && inside.length === 0) continue;
    out.push(`gvisor state left: ${path}${inside.length > 0 ? ` (${inside.slice(0, 5).join(', ')})` : ''}`);
  }
  return out;
}

/** The gvisor driver keeps runsc's `--root` at `${runDir}/gvisor/state`. */
function isRunscRoot(name: string): boolean {
  return name === 'state';
}

/**
 * Host pids of every live sandbox under the configured cgroup parent, by sandbox cgroup name,
 * read from the pids hierarchy (nested cgroups a runtime made below a sandbox's are included).
 */
export function sandboxCgroupPids(config: AirlockConfig): Map<string, number[]> {
  const layout = detectCgroups();
  const root = layout.version === 2 ? layout.mountPoint : layout.mounts.pids;
  const parent = `${root}/${config.cgroupParent}`;
  const out = new Map<string, number[]>();
  for (const name of listNames(parent)) {
    if (isDir(`${parent}/${name}`)) out.set(name, pidsBelow(`${parent}/${name}`));
  }
  return out;
}

function pidsBelow(dir: string): number[] {
  const pids = readOr(`${dir}/cgroup.procs`, '').split('\n').filter(Boolean).map(Number);
  for (const name of listNames(dir)) if (isDir(`${dir}/${name}`)) pids.push(...pidsBelow(`${dir}/${name}`));
  return pids;
}

/** One line of /proc/PID/uid_map as read from the host: inside id, host id, count. */
export interface IdMapping {
  inside: number;
  outside: number;
  count: number;
}

/** Parses /proc/PID/uid_map (or gid_map) of a host process, as the host sees it. */
export function uidMapOf(pid: number, which: 'uid_map' | 'gid_map' = 'uid_map'): IdMapping[] {
  return readOr(`/proc/${pid}/${which}`, '')
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter((f) => f.length === 3 && f.every(Number.isFinite))
    .map(([inside, outside, count]) => ({ inside: inside ?? -1, outside: outside ?? -1, count: count ?? 0 }));
}

const UNREAPED = 'unreaped child of this controller';

/**
 * {@link findLeftovers}, once what is about to go has gone: a child of this process that has
 * exited but that the event loop has not reaped yet is given a few turns to be reaped. Anything
 * else is reported at once.
 */
export async function settledLeftovers(config: AirlockConfig, baseline: HostBaseline, extraPaths: string[] = []): Promise<string[]> {
  let problems = findLeftovers(config, baseline, extraPaths);
  for (let i = 0; i < 10 && problems.length > 0 && problems.every((p) => p.includes(UNREAPED)); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    problems = findLeftovers(config, baseline, extraPaths);
  }
  return problems;
}

/** Leftovers in a form an assertion message can carry: a count per kind and the first few lines. */
export function summarizeLeftovers(problems: string[], shown = 10): string {
  const kinds = new Map<string, number>();
  for (const p of problems) {
    const kind = p.slice(0, p.indexOf(':'));
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  const counts = [...kinds].map(([k, n]) => `${n} × ${k}`).join(', ');
  const more = problems.length > shown ? `\n  … and ${problems.length - shown} more` : '';
  return `${problems.length} leftovers (${counts}):\n  ${problems.slice(0, shown).map((p) => p.slice(0, 240)).join('\n  ')}${more}`;
}

/**
 * Marks the leftovers present now, so that a case can later assert it added none: whatever an
 * earlier failing case left is reported by that case, not again by every case after it.
 */
export function leftoverMark(config: AirlockConfig, baseline: HostBaseline, extraPaths: string[] = []): { assertNoneAdded(what: string): Promise<void> } {
  const earlier = new Set(findLeftovers(config, baseline, extraPaths));
  return {
    async assertNoneAdded(what) {
      const added = (await settledLeftovers(config, baseline, extraPaths)).filter((p) => !earlier.has(p));
      if (added.length > 0) throw new assert.AssertionError({ message: `${what}: ${summarizeLeftovers(added)}` });
    },
  };
}
