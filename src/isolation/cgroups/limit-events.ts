/**
 * The kernel's own events for a sandbox cgroup's limit counters (OOM kills, pids-limit hits), for
 * every sandbox of a driver, so that an idle sandbox costs no work:
 *
 * - v2: inotify on `memory.events` and `pids.events` (and `pids.events.local` where the kernel has
 *   it): the kernel marks them modified whenever a counter in them moves.
 * - v1: one helper for every cgroup (see v1-events.ts): `memory.oom_control` through an eventfd,
 *   and pids-limit hits through the kernel's log, since v1 `pids.events` sends no inotify event on
 *   6.12+ kernels (the kernel notifies a file v1 doesn't show; checked on 6.18).
 *
 * A source that can't be set up degrades to polling its counter file (one pread on a held
 * descriptor, at the runner's shared cadence), and says why: never to no supervision.
 */
import { closeSync, existsSync, openSync, readSync, watch, type FSWatcher } from 'node:fs';
import type { LimitListener, LimitWatch } from '../driver.ts';
import type { SandboxCgroup } from './sandbox-cgroup.ts';
import type { CgroupV1Events } from './v1-events.ts';

/**
 * When the counters are read again after a v1 event: the kernel signals the OOM eventfd as the
 * cgroup enters OOM, before its killer has acted and counted the kill.
 */
const V1_FOLLOW_UP_MS = [25, 100, 500, 2000];

/** Arms the limit events of sandbox cgroups (one per driver). */
export class CgroupLimitEvents {
  private readonly v1: CgroupV1Events | undefined;

  /** `v1`: the helper for v1 hosts (unused on v2). */
  constructor(options: { v1?: CgroupV1Events } = {}) {
    this.v1 = options.v1;
  }

  /** Arms every source of `cgroup`'s limit counters; those that can't be armed are polled (see `polled`). */
  async watch(cgroup: SandboxCgroup, listener: LimitListener): Promise<LimitWatch> {
    if (cgroup.layout.version === 2) {
      const dir = cgroup.dirs.memory;
      const files = [`${dir}/memory.events`, `${cgroup.dirs.pids}/pids.events`];
      if (existsSync(`${cgroup.dirs.pids}/pids.events.local`)) files.push(`${cgroup.dirs.pids}/pids.events.local`);
      return watchFiles(files, listener);
    }
    const pids = `${cgroup.dirs.pids}/pids.events`;
    const oom = `${cgroup.dirs.memory}/memory.oom_control`;
    let unregister: (() => void) | undefined;
    const reasons: string[] = [];
    const files: string[] = [];
    const followUps = new Set<NodeJS.Timeout>();
    const evented: LimitListener = {
      changed: () => {
        listener.changed();
        for (const ms of V1_FOLLOW_UP_MS) {
          const timer = setTimeout(() => {
            followUps.delete(timer);
            listener.changed();
          }, ms);
          timer.unref();
          followUps.add(timer);
        }
      },
      failed: (reason) => listener.failed(reason),
    };
    try {
      if (this.v1 === undefined) throw new Error('no cgroup v1 event helper');
      const registration = await this.v1.register(cgroup.dirs.memory, cgroup.relativePath, evented);
      unregister = registration.unregister;
      if (registration.pidsUnevented !== undefined) {
        files.push(pids);
        reasons.push(`pids-limit hits: ${registration.pidsUnevented}`);
      }
    } catch (err) {
      files.push(pids, oom);
      reasons.push(`OOM and pids-limit hits: ${(err as Error).message}`);
    }
    const polled = new CounterFiles(files);
    return {
      polled: reasons.length === 0 ? undefined : `${reasons.join('; ')}, polled`,
      poll: () => {
        if (polled.changed()) listener.changed();
      },
      close: () => {
        unregister?.();
        unregister = undefined;
        for (const timer of followUps) clearTimeout(timer);
        followUps.clear();
        polled.close();
      },
    };
  }
}

/** inotify on each file; a file that can't be watched is polled instead (with the reason). */
function watchFiles(files: string[], listener: LimitListener): LimitWatch {
  const watchers: FSWatcher[] = [];
  const unwatched: string[] = [];
  const reasons: string[] = [];
  let closed = false;
  for (const file of files) {
    try {
      // Not persistent: a watch never keeps the controller alive on its own.
      const watcher = watch(file, { persistent: false }, () => listener.changed());
      watcher.on('error', (err) => {
        if (!closed) listener.failed(`inotify on ${file} failed: ${err.message}`);
      });
      watchers.push(watcher);
    } catch (err) {
      unwatched.push(file);
      reasons.push(`inotify on ${file}: ${(err as Error).message}`);
    }
  }
  const polled = new CounterFiles(unwatched);
  return {
    polled: reasons.length === 0 ? undefined : `${reasons.join('; ')}, polled`,
    poll: () => {
      if (polled.changed()) listener.changed();
    },
    close: () => {
      closed = true;
      for (const watcher of watchers) watcher.close();
      polled.close();
    },
  };
}

/**
 * Counter files held open and re-read with one pread each: whether any changed since the last
 * read. A file that can't be opened or read counts as changed (the runner then reads the sample
 * and decides), so a failing source never reads as quiet.
 */
export class CounterFiles {
  private readonly fds: (number | undefined)[];
  private readonly last: string[];
  private readonly buffer = Buffer.alloc(512);

  constructor(files: string[]) {
    this.fds = files.map((file) => {
      try {
        return openSync(file, 'r');
      } catch {
        return undefined;
      }
    });
    this.last = this.fds.map((fd) => this.read(fd));
  }

  /** Reads every file; true when any differs from the previous read. */
  changed(): boolean {
    let changed = false;
    this.fds.forEach((fd, i) => {
      const text = this.read(fd);
      if (text !== this.last[i] || text === '') changed = true;
      this.last[i] = text;
    });
    return changed;
  }

  close(): void {
    for (const fd of this.fds.splice(0)) if (fd !== undefined) closeSync(fd);
  }

  private read(fd: number | undefined): string {
    if (fd === undefined) return '';
    try {
      return this.buffer.toString('latin1', 0, readSync(fd, this.buffer, 0, this.buffer.length, 0));
    } catch {
      return '';
    }
  }
}
