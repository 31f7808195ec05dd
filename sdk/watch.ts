/**
 * Watching a folder in a sandbox by listing it now and then and comparing: the server has no push
 * channel for file changes, so `files.watchDir` polls. A change made and undone between two
 * listings is not seen; a rename is a `remove` and a `create`.
 */
import { InvalidRequestError } from './errors.ts';
import { checkOptions } from './options.ts';
import type { FileEntry } from './types.ts';

/** What happened to an entry of the watched folder (E2B's event names). */
export type FilesystemEventType = 'create' | 'write' | 'chmod' | 'remove';

/** One change of the watched folder. */
export interface FilesystemEvent {
  /** The entry's name in the folder. */
  name: string;
  type: FilesystemEventType;
}

/** Options of `files.watchDir`. */
export interface WatchDirOptions {
  /** How often the folder is listed, ms (default 500, at least 100). */
  intervalMs?: number | undefined;
  /** Stops the watch after this long, ms (default 0: until `stop()`). */
  timeoutMs?: number | undefined;
  /** Called once when the watch ends: with the error that ended it, or nothing after `stop()` or the timeout. */
  onExit?: ((err?: Error) => void) | undefined;
}

const WATCH_KEYS: ReadonlySet<string> = new Set(['intervalMs', 'timeoutMs', 'onExit']);
const WATCH_UNSUPPORTED = { recursive: 'only the folder itself is watched, not its subfolders', user: 'every command runs as the sandbox\'s one user', requestTimeoutMs: 'set it on the connection' };

type Snapshot = Map<string, FileEntry>;

function snapshotOf(entries: FileEntry[]): Snapshot {
  return new Map(entries.map((e) => [e.name, e]));
}

/** The events that turn `before` into `after`. */
export function changes(before: Snapshot, after: Snapshot): FilesystemEvent[] {
  const events: FilesystemEvent[] = [];
  for (const [name, entry] of after) {
    const old = before.get(name);
    if (old === undefined || old.type !== entry.type) {
      if (old !== undefined) events.push({ name, type: 'remove' });
      events.push({ name, type: 'create' });
    } else if (old.size !== entry.size || old.modified_at !== entry.modified_at) events.push({ name, type: 'write' });
    else if (old.mode !== entry.mode) events.push({ name, type: 'chmod' });
  }
  for (const name of before.keys()) if (!after.has(name)) events.push({ name, type: 'remove' });
  return events;
}

/** A running watch of one folder; `stop()` ends it. */
export class DirectoryWatch {
  readonly #list: (signal: AbortSignal) => Promise<FileEntry[]>;
  readonly #onEvent: (event: FilesystemEvent) => void | Promise<void>;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #onExit: ((err?: Error) => void) | undefined;
  readonly #stop = new AbortController();
  #snapshot: Snapshot = new Map();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #deadline: ReturnType<typeof setTimeout> | undefined;
  #ended = false;

  /** Use `sandbox.files.watchDir`. */
  constructor(list: (signal: AbortSignal) => Promise<FileEntry[]>, onEvent: (event: FilesystemEvent) => void | Promise<void>, options: WatchDirOptions) {
    checkOptions('files.watchDir', options, WATCH_KEYS, WATCH_UNSUPPORTED);
    const interval = options.intervalMs ?? 500;
    if (!Number.isFinite(interval) || interval < 100) throw new InvalidRequestError(`files.watchDir: intervalMs must be at least 100 (got ${interval})`, { code: 'invalid_argument' });
    const timeout = options.timeoutMs ?? 0;
    if (!Number.isFinite(timeout) || timeout < 0) throw new InvalidRequestError(`files.watchDir: timeoutMs must be 0 or more (got ${timeout})`, { code: 'invalid_argument' });
    this.#list = list;
    this.#onEvent = onEvent;
    this.#intervalMs = interval;
    this.#timeoutMs = timeout;
    this.#onExit = options.onExit;
  }

  /** Takes the first listing (a folder that isn't there rejects) and starts polling. */
  async start(): Promise<void> {
    this.#snapshot = snapshotOf(await this.#list(this.#stop.signal));
    if (this.#timeoutMs > 0) this.#deadline = setTimeout(() => this.#end(), this.#timeoutMs);
    this.#schedule();
  }

  /** Stops watching; no event is delivered afterwards. */
  async stop(): Promise<void> {
    this.#end();
  }

  #schedule(): void {
    if (this.#ended) return;
    this.#timer = setTimeout(() => void this.#poll(), this.#intervalMs);
  }

  async #poll(): Promise<void> {
    try {
      const next = snapshotOf(await this.#list(this.#stop.signal));
      const events = changes(this.#snapshot, next);
      this.#snapshot = next;
      for (const event of events) {
        if (this.#ended) return;
        await this.#onEvent(event);
      }
      this.#schedule();
    } catch (err) {
      // The folder gone, the sandbox ended, a listener that threw: the watch ends and says why.
      if (!this.#ended) this.#end(err as Error);
    }
  }

  #end(err?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#deadline);
    this.#stop.abort();
    this.#onExit?.(err);
  }
}
