/**
 * The kernel's limit events of cgroup v1 sandboxes, through one helper process for every cgroup of
 * the driver (agent/airlock-cgroup-events.c): OOM kills through an eventfd per memory cgroup
 * (`cgroup.event_control`; v1 has no memory.events for inotify), pids-limit hits through the
 * kernel's "fork rejected by pids controller in PATH" record in /dev/kmsg (v1 pids.events sends no
 * inotify event on 6.12+ kernels). Node can do neither itself. An idle sandbox costs a descriptor
 * in the helper, no work; every event only makes the runner read the counters.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ensureCBinary, HARDENED_CFLAGS } from '../../host/c-build.ts';
import { ControlError } from '../../host/control-error.ts';

/** The helper's source, beside the project. */
export const CGROUP_EVENTS_SOURCE = fileURLToPath(new URL('../../../agent/airlock-cgroup-events.c', import.meta.url));

/** Builds the helper if needed (`${stateDir}/cgroup-events/<key>/airlock-cgroup-events`, checksum-verified like the agent). */
export async function ensureCgroupEventsHelper(config: { stateDir: string }): Promise<string> {
  const spec = {
    stateDir: config.stateDir, kind: 'cgroup-events', source: CGROUP_EVENTS_SOURCE, binaryName: 'airlock-cgroup-events',
    cflags: HARDENED_CFLAGS, control: 'cgroups', purpose: 'the cgroup v1 event helper',
  };
  return (await ensureCBinary(spec)).path;
}

/**
 * How long the helper outlives its last registration: consecutive one-shots reuse it, and a
 * controller with no sandboxes left runs no helper (like the drift watch's monitors).
 */
const IDLE_STOP_MS = 1000;

/** Told of each event of a registered cgroup; `failed` once if the helper goes away. */
export interface V1Listener {
  changed(): void;
  failed(reason: string): void;
}

/** A registered cgroup. */
export interface V1Registration {
  /** Undefined when pids-limit hits arrive as events; otherwise why not (the caller polls pids.events). */
  pidsUnevented: string | undefined;
  unregister(): void;
}

interface Helper {
  child: ChildProcessWithoutNullStreams;
  /** Why /dev/kmsg can't be read; undefined when it is. */
  noKmsg: string | undefined;
}

interface Pending {
  resolve(): void;
  reject(err: Error): void;
}

/** The helper, started with the first registration and shared by every cgroup registered after. */
export class CgroupV1Events {
  private readonly helperPath: () => Promise<string>;
  private helper: Promise<Helper> | undefined;
  private live: ChildProcessWithoutNullStreams | undefined;
  private readonly listeners = new Map<number, V1Listener>();
  /** Pids cgroup path as the kernel logs it (`/parent/id`) → registration id. */
  private readonly byPath = new Map<string, number>();
  private readonly pending = new Map<number, Pending>();
  private readonly freeIds: number[] = [];
  private nextId = 0;
  private idleStop: NodeJS.Timeout | undefined;

  /** `helperPath`: resolves to the built helper (see {@link ensureCgroupEventsHelper}). */
  constructor(helperPath: () => Promise<string>) {
    this.helperPath = helperPath;
  }

  /**
   * Registers a sandbox: its v1 memory cgroup directory and its path below the hierarchy roots
   * (`parent/id`). Resolves once the kernel accepted the OOM eventfd; rejects with a ControlError
   * naming what failed.
   */
  async register(memoryDir: string, relativePath: string, listener: V1Listener): Promise<V1Registration> {
    if (/\s/.test(memoryDir) || /\s/.test(relativePath)) throw new ControlError('cgroups', `cgroup path ${JSON.stringify(relativePath)} has whitespace`);
    clearTimeout(this.idleStop);
    const helper = await this.start();
    clearTimeout(this.idleStop);
    const id = this.freeIds.pop() ?? this.nextId++;
    const path = `/${relativePath}`;
    const answered = new Promise<void>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.listeners.set(id, listener);
    this.byPath.set(path, id);
    helper.child.stdin.write(`add ${id} ${memoryDir}\n`);
    const unregister = () => {
      if (this.listeners.get(id) !== listener) return;
      this.listeners.delete(id);
      if (this.byPath.get(path) === id) this.byPath.delete(path);
      // An event of the old cgroup still in the pipe may reach the id's next owner: it only makes it read its counters.
      if (helper.child.exitCode === null && helper.child.signalCode === null) helper.child.stdin.write(`del ${id}\n`);
      this.freeIds.push(id);
      if (this.listeners.size === 0 && this.pending.size === 0) this.scheduleStop(helper.child);
    };
    try {
      await answered;
    } catch (err) {
      unregister();
      throw err;
    }
    return { pidsUnevented: helper.noKmsg, unregister };
  }

  /** Ends an unused helper after IDLE_STOP_MS; a registration meanwhile cancels it. */
  private scheduleStop(child: ChildProcessWithoutNullStreams): void {
    clearTimeout(this.idleStop);
    this.idleStop = setTimeout(() => {
      if (this.live !== child || this.listeners.size > 0 || this.pending.size > 0) return;
      // Detached first: a registration from now on starts a new helper; this one exits on EOF.
      this.live = undefined;
      this.helper = undefined;
      this.freeIds.length = 0;
      this.nextId = 0;
      child.stdin.end();
    }, IDLE_STOP_MS);
    this.idleStop.unref();
  }

  private start(): Promise<Helper> {
    this.helper ??= this.spawnHelper().catch((err: unknown) => {
      this.helper = undefined;
      if (err instanceof ControlError) throw err;
      throw new ControlError('cgroups', `cannot start the cgroup v1 event helper: ${(err as Error).message}`, { cause: err });
    });
    return this.helper;
  }

  private async spawnHelper(): Promise<Helper> {
    const path = await this.helperPath();
    const child = spawn(path, [], { stdio: ['pipe', 'pipe', 'pipe'], env: {} });
    child.stdin.on('error', () => undefined);
    child.stderr.resume();
    const lines = createInterface({ input: child.stdout });
    // The first line says whether /dev/kmsg could be opened.
    const ready = new Promise<string | undefined>((resolve, reject) => {
      lines.once('line', (line) => {
        if (line === 'ready kmsg') resolve(undefined);
        else if (line.startsWith('ready nokmsg ')) resolve(line.slice('ready nokmsg '.length));
        else reject(new Error(`unexpected first line ${JSON.stringify(line)}`));
      });
      child.once('error', reject);
      child.once('exit', (code, signal) => reject(new Error(`exited (${code ?? signal}) before it was ready`)));
    });
    const noKmsg = await ready;
    lines.on('line', (line) => this.onLine(line));
    child.once('exit', (code, signal) => this.onExit(child, `the cgroup v1 event helper exited (${code ?? signal})`));
    this.live = child;
    // The helper never keeps the controller alive; it exits with it (stdin closes, parent-death signal).
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void }).unref?.();
    return { child, noKmsg };
  }

  private onLine(line: string): void {
    const space = line.indexOf(' ');
    const kind = space < 0 ? line : line.slice(0, space);
    const rest = space < 0 ? '' : line.slice(space + 1);
    if (kind === 'lost') {
      // Kernel records were overwritten before they were read: any sandbox may have had a hit.
      for (const listener of this.listeners.values()) listener.changed();
      return;
    }
    if (kind === 'pids') {
      const id = this.idOfPath(rest);
      if (id !== undefined) this.listeners.get(id)?.changed();
      return;
    }
    const [idText, ...reason] = rest.split(' ');
    const id = Number(idText);
    if (kind === 'oom') {
      this.listeners.get(id)?.changed();
      return;
    }
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.pending.delete(id);
    if (kind === 'ok') pending.resolve();
    else pending.reject(new ControlError('cgroups', `cannot register for OOM events: ${reason.join(' ') || line}`));
  }

  /** The registration of `path` or of the nearest cgroup above it (a runtime may nest its own). */
  private idOfPath(path: string): number | undefined {
    for (let p = path; p.length > 1; p = p.slice(0, p.lastIndexOf('/'))) {
      const id = this.byPath.get(p);
      if (id !== undefined) return id;
    }
    return undefined;
  }

  /** Every watch of a dead helper fails (their owners sample instead); the next registration starts a new one. */
  private onExit(child: ChildProcessWithoutNullStreams, reason: string): void {
    if (this.live !== child) return;
    this.live = undefined;
    this.helper = undefined;
    for (const pending of this.pending.values()) pending.reject(new ControlError('cgroups', reason));
    this.pending.clear();
    const listeners = [...this.listeners.values()];
    this.listeners.clear();
    this.byPath.clear();
    this.freeIds.length = 0;
    this.nextId = 0;
    for (const listener of listeners) listener.failed(reason);
  }
}
