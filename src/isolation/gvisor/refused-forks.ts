/**
 * Counts the forks the sandbox kernel refused at the guest task limit.
 *
 * The guest limit is RLIMIT_NPROC inside runsc's kernel (the sandbox's tasks are goroutines there,
 * not host processes, so the host cgroup's pids.events never sees them): a clone past it returns
 * EAGAIN and leaves no counter anywhere the host can read, and `runsc events` only reports the
 * current task count, which a sampler can miss. So the sandbox kernel traces the clone family
 * (`--strace --strace-syscalls=…`) into its debug log, and that log is a FIFO this class reads as
 * it is written: every traced clone that returned EAGAIN is one refused fork, however short-lived
 * the fork bomb. Nothing is stored: lines are scanned and dropped.
 */
import { execFile } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { promisify } from 'node:util';
import { ControlError } from '../../host/control-error.ts';
import type { SandboxDenial } from '../driver.ts';
import { DENIAL_MARK, hostSyscallNames, parseSeccompDenial } from './seccomp-denials.ts';

const run = promisify(execFile);

/** The syscalls the sandbox kernel traces: every way a guest task is created. */
export const TRACED_SYSCALLS = ['clone', 'clone3', 'fork', 'vfork'] as const;

/** Longest line kept while waiting for its end; longer ones are no strace line of the clone family. */
const MAX_LINE = 64 * 1024;

/**
 * Whether one line of the sandbox kernel's log is a clone-family exit that failed with EAGAIN, e.g.
 * `I1206 07:27:53.413282   15773 strace.go:611] [   2:   2] python3 X clone(…) = 0 (0x0) errno=11 (try again) (514µs)`.
 */
export function isRefusedFork(line: string): boolean {
  return /strace\.go:\d+\] \[\s*\d+:\s*\d+\] .* X (?:clone3?|v?fork)\(.*\) = .* errno=11 \(/.test(line);
}

/** Reads the sandbox kernel's log FIFO for one sandbox. */
export class RefusedForkWatch {
  private readonly socket: Socket;
  /** Our own write end, held until runsc has opened its: without it the reader would see EOF at once. */
  private placeholderFd: number | undefined;
  private pending = '';
  private refused = 0;
  private readonly ended: Promise<void>;
  /** Told of every refused fork as its trace line is read. */
  private readonly listeners = new Set<() => void>();
  /** Told of every call the sandbox kernel's seccomp filter refused (logged at debug level only). */
  private readonly denialListeners = new Set<(denial: SandboxDenial) => void>();
  private denials = 0;
  private readonly names = hostSyscallNames();

  private constructor(readFd: number, placeholderFd: number) {
    this.placeholderFd = placeholderFd;
    this.socket = new Socket({ fd: readFd, readable: true, writable: false });
    this.ended = new Promise((resolve) => {
      this.socket.once('close', () => resolve());
    });
    this.socket.on('error', () => undefined);
    this.socket.on('data', (chunk: Buffer) => this.scan(chunk.toString('latin1')));
  }

  /**
   * Makes the FIFO `path` (0600, in the root-only bundle) and opens it for reading. Fails closed:
   * without it the guest's task limit would be enforced but its hits never reported.
   */
  static async create(path: string, mkfifo: string): Promise<RefusedForkWatch> {
    try {
      await run(mkfifo, ['-m', '0600', '--', path], { env: { PATH: '/usr/bin:/bin' } });
      // Node opens every descriptor close-on-exec: no sandbox process inherits these.
      const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
      const placeholderFd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
      return new RefusedForkWatch(readFd, placeholderFd);
    } catch (err) {
      throw new ControlError('pids', `cannot open the sandbox kernel's log ${path}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Forks refused so far. */
  get count(): number {
    return this.refused;
  }

  /** Calls `listener` on every refused fork from now on, as it is read; returns its removal. */
  onRefused(listener: () => void): () => void {
    const entry = () => listener();
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  /** Calls the sandbox kernel's seccomp filter refused so far (runsc at debug level only). */
  get denied(): number {
    return this.denials;
  }

  /** Calls `listener` with every seccomp denial from now on, as its log line is read; returns its removal. */
  onDenied(listener: (denial: SandboxDenial) => void): () => void {
    const entry = (d: SandboxDenial) => listener(d);
    this.denialListeners.add(entry);
    return () => this.denialListeners.delete(entry);
  }

  /** runsc has opened its end (the sandbox started): from now on EOF means every writer is gone. */
  writersAttached(): void {
    if (this.placeholderFd === undefined) return;
    closeSync(this.placeholderFd);
    this.placeholderFd = undefined;
  }

  /** Resolves once everything the sandbox kernel wrote has been read (EOF), or after `ms`. */
  async drained(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      timer.unref();
    });
    await Promise.race([this.ended, late]);
    clearTimeout(timer);
  }

  /** Closes both ends; the count stays readable. */
  close(): void {
    this.writersAttached();
    this.socket.destroy();
  }

  private scan(text: string): void {
    const lines = (this.pending + text).split('\n');
    this.pending = lines.pop() ?? '';
    if (this.pending.length > MAX_LINE) this.pending = '';
    // The cheap test first: almost every line is something else.
    const before = this.refused;
    for (const line of lines) {
      if (line.includes(' errno=11 ') && isRefusedFork(line)) this.refused++;
      else if (line.includes(DENIAL_MARK)) this.denial(line);
    }
    if (this.refused === before) return;
    for (const listener of this.listeners) listener();
  }

  private denial(line: string): void {
    const d = parseSeccompDenial(line, this.names);
    if (d === undefined) return;
    this.denials++;
    for (const listener of this.denialListeners) listener(d);
  }
}
