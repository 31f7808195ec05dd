/**
 * One sandbox's cgroup, on v1 (one directory per controller hierarchy) or v2 (one directory).
 * Limits are written before any sandbox process joins, so nothing ever runs unlimited.
 */
import { closeSync, constants as fsConstants, mkdirSync, openSync, readFileSync, rmdirSync, write, writeFileSync, existsSync, watch, type FSWatcher } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Limits } from '../driver.ts';
import { ControlError } from '../../host/control-error.ts';
import { parseMountInfo, type CgroupLayout } from './detect.ts';

const CPU_PERIOD_US = 100_000;

/** Counters read from the cgroup; every figure is measured by the kernel. */
export interface CgroupSample {
  /** CPU time since {@link SandboxCgroup.markCommandStart} (all of it before that is called). */
  cpuNanos: number;
  memoryPeakBytes: number;
  oomKills: number;
  pidsLimitHits: number;
}

/** Reads `key value` lines (memory.events, pids.events, cpu.stat, memory.oom_control). */
export function readKeyedCounter(text: string, key: string): number {
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k === key && v !== undefined) return Number(v);
  }
  return 0;
}

/**
 * Opens `path` here and writes `text` on the thread pool: only the write, the one step that may wait
 * for the kernel (a cgroup v1 migration), leaves the event loop, in one round trip instead of three.
 */
function writeOffLoop(path: string, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let fd: number;
    try {
      fd = openSync(path, fsConstants.O_WRONLY);
    } catch (err) {
      reject(err as Error);
      return;
    }
    write(fd, text, (err) => {
      closeSync(fd);
      if (err === null) resolve();
      else reject(err);
    });
  });
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

/** A created cgroup. Call `remove()` once its processes are gone. */
export class SandboxCgroup {
  readonly layout: CgroupLayout;
  /** Directory per role; on v2 all roles share one directory. */
  readonly dirs: { memory: string; cpu: string; cpuacct: string; pids: string };
  /** Path relative to each hierarchy root (what OCI `cgroupsPath` takes). */
  readonly relativePath: string;
  /** Cumulative CPU time when the command was released: the runtime's own start-up is not the command's. */
  private cpuBaselineNanos = 0;

  private constructor(layout: CgroupLayout, relativePath: string) {
    this.layout = layout;
    this.relativePath = relativePath;
    if (layout.version === 2) {
      const dir = `${layout.mountPoint}/${relativePath}`;
      this.dirs = { memory: dir, cpu: dir, cpuacct: dir, pids: dir };
    } else {
      const m = layout.mounts;
      this.dirs = {
        memory: `${m.memory}/${relativePath}`,
        cpu: `${m.cpu}/${relativePath}`,
        cpuacct: `${m.cpuacct}/${relativePath}`,
        pids: `${m.pids}/${relativePath}`,
      };
    }
  }

  /** Every distinct directory (v1 may co-mount cpu and cpuacct). */
  get uniqueDirs(): string[] {
    return [...new Set(Object.values(this.dirs))];
  }

  /**
   * Creates `<parent>/<id>` and writes memory, CPU and pids limits. Fails closed: any limit that
   * can't be written removes the cgroup and throws a ControlError naming the limit.
   */
  static create(layout: CgroupLayout, parent: string, id: string, limits: Limits): SandboxCgroup {
    const cg = new SandboxCgroup(layout, `${parent}/${id}`);
    try {
      if (layout.version === 2) cg.prepareV2Parents(parent);
      for (const dir of cg.uniqueDirs) mkdirSync(dir, { recursive: true });
      cg.writeLimits(limits);
    } catch (err) {
      cg.removeDirsQuietly();
      if (err instanceof ControlError) throw err;
      throw new ControlError('cgroups', `cannot create cgroup ${cg.relativePath}: ${(err as Error).message}`, { cause: err });
    }
    return cg;
  }

  /** Refers to a cgroup another component (runsc) manages at the same path; read-only use. */
  static attach(layout: CgroupLayout, parent: string, id: string): SandboxCgroup {
    return new SandboxCgroup(layout, `${parent}/${id}`);
  }

  private prepareV2Parents(parent: string): void {
    if (this.layout.version !== 2) return;
    const root = this.layout.mountPoint;
    // Controllers must be enabled top-down for the leaf to get memory/cpu/pids files.
    let current = root;
    for (const part of parent.split('/')) {
      enableV2Controllers(current);
      current = `${current}/${part}`;
      mkdirSync(current, { recursive: true });
    }
    enableV2Controllers(current);
  }

  private writeLimits(limits: Limits): void {
    const memoryBytes = String(limits.memoryMb * 1024 * 1024);
    const quota = Math.max(1000, Math.round(limits.cpuCores * CPU_PERIOD_US));
    if (this.layout.version === 2) {
      writeLimit('memory', `${this.dirs.memory}/memory.max`, memoryBytes);
      // No swap: the memory limit must be the whole memory the sandbox can use.
      if (existsSync(`${this.dirs.memory}/memory.swap.max`)) writeLimit('memory', `${this.dirs.memory}/memory.swap.max`, '0');
      writeLimit('cpu', `${this.dirs.cpu}/cpu.max`, `${quota} ${CPU_PERIOD_US}`);
      writeLimit('pids', `${this.dirs.pids}/pids.max`, String(limits.pids));
      return;
    }
    writeLimit('memory', `${this.dirs.memory}/memory.limit_in_bytes`, memoryBytes);
    // With swap accounting on, cap memory+swap at the same value so swap can't extend the limit.
    if (existsSync(`${this.dirs.memory}/memory.memsw.limit_in_bytes`)) {
      writeLimit('memory', `${this.dirs.memory}/memory.memsw.limit_in_bytes`, memoryBytes);
    }
    writeLimit('cpu', `${this.dirs.cpu}/cpu.cfs_period_us`, String(CPU_PERIOD_US));
    writeLimit('cpu', `${this.dirs.cpu}/cpu.cfs_quota_us`, String(quota));
    writeLimit('pids', `${this.dirs.pids}/pids.max`, String(limits.pids));
  }

  /**
   * Moves a host pid into every hierarchy of this cgroup (children forked later follow it).
   * Asynchronous: on cgroup v1 a migration waits for the kernel (tens of milliseconds under load),
   * which must not hold the event loop that serves every other request.
   */
  async addProcess(pid: number): Promise<void> {
    // Every hierarchy at once: on v1 each migration waits for the kernel, and they don't depend on each other.
    await Promise.all(
      this.uniqueDirs.map((dir) =>
        writeOffLoop(`${dir}/cgroup.procs`, String(pid)).catch((err: unknown) => {
          throw new ControlError('cgroups', `cannot move pid ${pid} into ${dir}: ${(err as Error).message}`, { cause: err });
        }),
      ),
    );
  }

  /** Whether `pid` is in this cgroup in every hierarchy (from /proc/PID/cgroup, as the host sees it). */
  contains(pid: number): boolean {
    const text = readOr(`/proc/${pid}/cgroup`, '');
    const want = `/${this.relativePath}`;
    const lines = text.split('\n').filter(Boolean).map((l) => {
      const [, controllers = '', path = ''] = l.split(':');
      return { controllers: controllers.split(','), path };
    });
    if (this.layout.version === 2) return lines.some((l) => l.controllers.length === 1 && l.controllers[0] === '' && l.path === want);
    return (['memory', 'cpu', 'cpuacct', 'pids'] as const).every((c) => lines.some((l) => l.controllers.includes(c) && l.path === want));
  }

  /**
   * Records the cgroup's CPU time now, as the command is released: later samples count CPU from
   * here on, so the runtime's start-up (bwrap set-up, runsc boot) is never billed to the command.
   */
  markCommandStart(): void {
    this.cpuBaselineNanos = this.cumulativeCpuNanos();
  }

  /** Reads CPU (since the command started), peak memory, OOM kills and pids-limit hits. */
  sample(): CgroupSample {
    const cpuNanos = Math.max(0, this.cumulativeCpuNanos() - this.cpuBaselineNanos);
    if (this.layout.version === 2) {
      const dir = this.dirs.memory;
      const peak = readOr(`${dir}/memory.peak`, '') || readOr(`${dir}/memory.current`, '0');
      return {
        cpuNanos,
        memoryPeakBytes: Number(peak.trim()) || 0,
        oomKills: readKeyedCounter(readOr(`${dir}/memory.events`, ''), 'oom_kill'),
        pidsLimitHits: v2PidsLimitHits(readOr(`${dir}/pids.events`, ''), readOr(`${dir}/pids.events.local`, '')),
      };
    }
    return {
      cpuNanos,
      memoryPeakBytes: Number(readOr(`${this.dirs.memory}/memory.max_usage_in_bytes`, '0').trim()) || 0,
      oomKills: readKeyedCounter(readOr(`${this.dirs.memory}/memory.oom_control`, ''), 'oom_kill'),
      // v1 pids.events (kernel 4.8+) counts the forks this cgroup's pids.max refused.
      pidsLimitHits: readKeyedCounter(readOr(`${this.dirs.pids}/pids.events`, ''), 'max'),
    };
  }

  /** Total CPU time charged to the cgroup since it was created (v2 cpu.stat usage_usec, v1 cpuacct.usage). */
  private cumulativeCpuNanos(): number {
    if (this.layout.version === 2) return readKeyedCounter(readOr(`${this.dirs.cpu}/cpu.stat`, ''), 'usage_usec') * 1000;
    return Number(readOr(`${this.dirs.cpuacct}/cpuacct.usage`, '0').trim()) || 0;
  }

  /** Host pids currently in the cgroup. */
  pids(): number[] {
    return readOr(`${this.dirs.pids}/cgroup.procs`, '')
      .split('\n')
      .filter(Boolean)
      .map(Number);
  }

  /** SIGKILLs everything in the cgroup (cgroup.kill on v2 when available). */
  killAll(): void {
    if (this.layout.version === 2 && existsSync(`${this.dirs.pids}/cgroup.kill`)) {
      writeFileSync(`${this.dirs.pids}/cgroup.kill`, '1');
      return;
    }
    for (const pid of this.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }

  /** {@link killAll} again every 5 ms until the cgroup is empty or `timeoutMs` have passed. */
  async killUntilEmpty(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.killAll();
      if (this.pids().length === 0 || Date.now() > deadline) return;
      await sleep(5);
    }
  }

  /**
   * Kills what is left and removes the directories; waits up to `timeoutMs` for exits. On v2 the
   * kernel says when the cgroup empties (`cgroup.events`, inotify): the next try follows at once.
   * v1 has no such event (only a host-wide release agent), so it retries every 10 ms.
   */
  async remove(timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let emptied: EmptiedWatch | undefined;
    let watched = false;
    try {
      for (;;) {
        this.killAll();
        if (this.removeDirsQuietly()) return;
        if (Date.now() > deadline) {
          throw new ControlError('cgroups', `cgroup ${this.relativePath} still busy after ${timeoutMs} ms`);
        }
        if (!watched && this.layout.version === 2) {
          watched = true;
          emptied = EmptiedWatch.open(`${this.dirs.pids}/cgroup.events`);
          // Armed after the last try: try once more, in case it emptied in between.
          if (emptied !== undefined) continue;
        }
        await (emptied?.next(REMOVE_RETRY_MS) ?? sleep(10));
      }
    } finally {
      emptied?.close();
    }
  }

  /** Returns true when every directory is gone. */
  private removeDirsQuietly(): boolean {
    let allGone = true;
    for (const dir of this.uniqueDirs) {
      try {
        rmdirSync(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') allGone = false;
      }
    }
    return allGone;
  }
}

/** Longest wait between removal tries on v2, should an emptiness event be missed. */
const REMOVE_RETRY_MS = 100;

/** Changes of a v2 `cgroup.events` (populated 1 → 0 among them), awaited one at a time. */
class EmptiedWatch {
  private readonly watcher: FSWatcher;
  private wake: (() => void) | undefined;
  /** A change no one was waiting for yet: the next wait returns at once. */
  private changed = false;

  private constructor(watcher: FSWatcher) {
    this.watcher = watcher;
    watcher.on('change', () => {
      if (this.wake === undefined) this.changed = true;
      else this.wake();
    });
    // A lost watch only slows the retries down to REMOVE_RETRY_MS.
    watcher.on('error', () => undefined);
  }

  /** Undefined when the file can't be watched (the caller retries on a timer). */
  static open(file: string): EmptiedWatch | undefined {
    try {
      return new EmptiedWatch(watch(file, { persistent: false }));
    } catch {
      return undefined;
    }
  }

  /** Resolves at the next change, or after `ms` at the latest. */
  next(ms: number): Promise<void> {
    if (this.changed) {
      this.changed = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  close(): void {
    this.wake = undefined;
    this.watcher.close();
  }
}

/**
 * Forks refused by the sandbox's pids.max on cgroup v2. `pids.events` counts them (since 6.12 also
 * those of descendants; with the `pids_localevents` mount option only from 6.12 on in
 * `pids.events.local`), so the larger of the two `max` counters is the hit count on every kernel.
 */
export function v2PidsLimitHits(events: string, eventsLocal: string): number {
  return Math.max(readKeyedCounter(events, 'max'), readKeyedCounter(eventsLocal, 'max'));
}

function writeLimit(control: string, path: string, value: string): void {
  try {
    writeFileSync(path, value);
  } catch (err) {
    throw new ControlError(control, `cannot write ${value} to ${path}: ${(err as Error).message}`, { cause: err });
  }
}

function enableV2Controllers(dir: string): void {
  const wanted = ['memory', 'cpu', 'pids'];
  const enabled = readOr(`${dir}/cgroup.subtree_control`, '').split(/\s+/);
  const missing = wanted.filter((c) => !enabled.includes(c));
  if (missing.length === 0) return;
  writeLimit('cgroups', `${dir}/cgroup.subtree_control`, missing.map((c) => `+${c}`).join(' '));
}

/**
 * Removes the (empty) parent cgroup `parent` from every cgroup hierarchy mounted here. A parent
 * still holding a sandbox's cgroup stays: rmdir only removes empty directories.
 */
export function removeEmptyParent(parent: string): void {
  for (const m of parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'))) {
    if (m.fsType !== 'cgroup' && m.fsType !== 'cgroup2') continue;
    try {
      rmdirSync(`${m.mountPoint}/${parent}`);
    } catch {
      // Absent in this hierarchy, or still in use.
    }
  }
}
