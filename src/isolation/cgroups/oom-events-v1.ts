/**
 * OOM notifications of cgroup v1 memory cgroups: the kernel signals an eventfd registered through
 * `cgroup.event_control` (v1 has no memory.events to watch with inotify, and Node can't make an
 * eventfd). One helper process (agent/airlock-oom-events.c) holds the eventfds of every watched
 * cgroup of the driver and prints one line per event: an idle sandbox costs a descriptor in the
 * helper, no work.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ensureCBinary, HARDENED_CFLAGS } from '../../host/c-build.ts';
import { ControlError } from '../../host/control-error.ts';

/** The helper's source, beside the project. */
export const OOM_EVENTS_SOURCE = fileURLToPath(new URL('../../../agent/airlock-oom-events.c', import.meta.url));

/** Builds the helper if needed (`${stateDir}/oom-events/<key>/airlock-oom-events`, checksum-verified like the agent). */
export async function ensureOomEventsHelper(config: { stateDir: string }): Promise<string> {
  const spec = {
    stateDir: config.stateDir, kind: 'oom-events', source: OOM_EVENTS_SOURCE, binaryName: 'airlock-oom-events',
    cflags: HARDENED_CFLAGS, control: 'cgroups', purpose: 'the cgroup v1 OOM event helper',
  };
  return (await ensureCBinary(spec)).path;
}

/** Called for each event of a registered cgroup; `failed` once if the helper goes away. */
export interface OomListener {
  changed(): void;
  failed(reason: string): void;
}

interface Pending {
  resolve(): void;
  reject(err: Error): void;
}

/** The helper, started with the first registration and shared by every cgroup registered after. */
export class OomEventsV1 {
  private readonly helperPath: () => Promise<string>;
  private child: Promise<ChildProcessWithoutNullStreams> | undefined;
  /** The running helper, once spawned (the one `child` resolves to). */
  private live: ChildProcessWithoutNullStreams | undefined;
  private readonly listeners = new Map<number, OomListener>();
  private readonly pending = new Map<number, Pending>();
  private readonly freeIds: number[] = [];
  private nextId = 0;

  /** `helperPath`: resolves to the built helper (see {@link ensureOomEventsHelper}). */
  constructor(helperPath: () => Promise<string>) {
    this.helperPath = helperPath;
  }

  /**
   * Registers the v1 memory cgroup `memoryDir`; resolves once the kernel accepted the eventfd and
   * returns the unregister function. Rejects with a ControlError naming what failed.
   */
  async register(memoryDir: string, listener: OomListener): Promise<() => void> {
    if (/\s/.test(memoryDir)) throw new ControlError('cgroups', `cgroup path ${JSON.stringify(memoryDir)} has whitespace`);
    const child = await this.start();
    const id = this.freeIds.pop() ?? this.nextId++;
    const answered = new Promise<void>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.listeners.set(id, listener);
    child.stdin.write(`add ${id} ${memoryDir}\n`);
    try {
      await answered;
    } catch (err) {
      this.release(id, listener, child);
      throw err;
    }
    return () => this.release(id, listener, child);
  }

  private release(id: number, listener: OomListener, child: ChildProcessWithoutNullStreams): void {
    if (this.listeners.get(id) !== listener) return;
    this.listeners.delete(id);
    // An event of the old cgroup still in the pipe may reach the id's next owner: it only makes it read its counters.
    if (child.exitCode === null && child.signalCode === null) child.stdin.write(`del ${id}\n`);
    this.freeIds.push(id);
  }

  private start(): Promise<ChildProcessWithoutNullStreams> {
    this.child ??= this.spawnHelper().catch((err: unknown) => {
      this.child = undefined;
      if (err instanceof ControlError) throw err;
      throw new ControlError('cgroups', `cannot start the cgroup v1 OOM event helper: ${(err as Error).message}`, { cause: err });
    });
    return this.child;
  }

  private async spawnHelper(): Promise<ChildProcessWithoutNullStreams> {
    const path = await this.helperPath();
    const child = spawn(path, [], { stdio: ['pipe', 'pipe', 'pipe'], env: {} });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    child.stdin.on('error', () => undefined);
    child.stderr.resume();
    createInterface({ input: child.stdout }).on('line', (line) => this.onLine(line));
    child.once('exit', (code, signal) => this.onExit(child, `the cgroup v1 OOM event helper exited (${code ?? signal})`));
    this.live = child;
    // The helper never keeps the controller alive; it exits with it (stdin closes, parent-death signal).
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void }).unref?.();
    return child;
  }

  private onLine(line: string): void {
    const [kind, idText, ...rest] = line.split(' ');
    const id = Number(idText);
    if (kind === 'oom') {
      this.listeners.get(id)?.changed();
      return;
    }
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.pending.delete(id);
    if (kind === 'ok') pending.resolve();
    else pending.reject(new ControlError('cgroups', `cannot register for OOM events: ${rest.join(' ') || line}`));
  }

  /** Every watch of a dead helper fails (their owners sample instead); the next registration starts a new one. */
  private onExit(child: ChildProcessWithoutNullStreams, reason: string): void {
    if (this.live !== child) return;
    this.live = undefined;
    this.child = undefined;
    for (const pending of this.pending.values()) pending.reject(new ControlError('cgroups', reason));
    this.pending.clear();
    const listeners = [...this.listeners.values()];
    this.listeners.clear();
    this.freeIds.length = 0;
    this.nextId = 0;
    for (const listener of listeners) listener.failed(reason);
  }
}
