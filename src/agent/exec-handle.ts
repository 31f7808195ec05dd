/**
 * One command running through the in-sandbox agent: its output as it arrives, its stdin (flow
 * controlled by the agent's acknowledgements), kill, timeout, and how it ended.
 */
import { AgentError, AgentProtocolError } from './errors.ts';
import { decodeError, decodeExit, decodeU32, encodeSignal, type ExitStatus } from './messages.ts';
import { Ev, Req, type Frame } from './protocol.ts';

/** Stdin bytes sent but not yet acknowledged, per command; the agent's queue holds twice this. */
export const STDIN_WINDOW = 1 << 20;
/** Size of one STDIN frame. */
const STDIN_CHUNK = 64 * 1024;

/** What to run through the agent. */
export interface ExecOptions {
  argv: string[];
  /** The complete environment of the command: nothing is inherited from the agent. */
  env: Record<string, string>;
  /** Working directory inside the sandbox. */
  cwd: string;
  /** Pipe stdin (writeStdin/closeStdin); otherwise the command reads /dev/null. */
  stdin?: boolean;
  /** Kills the command's process group with SIGKILL after this long; `exit` then says timedOut. */
  timeoutMs?: number;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
}

/** How a command ended. */
export interface ExecResult extends ExitStatus {
  /** True when `timeoutMs` passed and the command was killed for it. */
  timedOut: boolean;
}

/** What a handle needs from its client to talk on its channel. */
export interface ExecPort {
  /** Sends a control frame on this channel at once. */
  send(type: number, payload?: Buffer): void;
  /** Sends a frame, resolving when the host side of the channel can take more. */
  sendData(type: number, payload: Buffer): Promise<void>;
  /** Forgets the channel once the command has ended. */
  release(): void;
}

type Listener = (chunk: Buffer) => void;

/**
 * A running command. Output listeners see every chunk that arrives after they are added; adding
 * them right after `exec()` returns (or passing them in the options) never misses output.
 */
export class ExecHandle {
  /** The protocol channel of this command. */
  readonly channel: number;
  /** The command's pid inside the sandbox; rejects (AgentError) when the agent refused to start it. */
  readonly pid: Promise<number>;
  /** Resolves once the command exited and all its output was delivered; rejects if it never ran or the agent died. */
  readonly exit: Promise<ExecResult>;
  private readonly port: ExecPort;
  private readonly command: string;
  private readonly pidState = Promise.withResolvers<number>();
  private readonly exitState = Promise.withResolvers<ExecResult>();
  private readonly stdoutListeners: Listener[] = [];
  private readonly stderrListeners: Listener[] = [];
  private readonly stdinPiped: boolean;
  private stdinClosed = false;
  private stdinChain: Promise<void> = Promise.resolve();
  private inflight = 0;
  private wakers: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timedOut = false;
  private ended = false;
  private failure: Error | undefined;

  constructor(channel: number, options: ExecOptions, port: ExecPort) {
    this.channel = channel;
    this.port = port;
    this.command = options.argv[0] ?? '';
    this.stdinPiped = options.stdin === true;
    this.pid = this.pidState.promise;
    this.exit = this.exitState.promise;
    // Marked handled: a caller that only awaits one of them must not crash on the other.
    this.pid.catch(() => undefined);
    this.exit.catch(() => undefined);
    if (options.onStdout !== undefined) this.stdoutListeners.push(options.onStdout);
    if (options.onStderr !== undefined) this.stderrListeners.push(options.onStderr);
    if (options.timeoutMs !== undefined) {
      this.timer = setTimeout(() => {
        this.timedOut = true;
        this.kill('SIGKILL');
      }, options.timeoutMs);
    }
  }

  /** Adds a stdout listener. */
  onStdout(listener: Listener): this {
    this.stdoutListeners.push(listener);
    return this;
  }

  /** Adds a stderr listener. */
  onStderr(listener: Listener): this {
    this.stderrListeners.push(listener);
    return this;
  }

  /**
   * Queues bytes for the command's stdin; resolves once they are handed to the channel (at most
   * STDIN_WINDOW unacknowledged bytes per command). Bytes the command never reads are discarded.
   */
  writeStdin(data: Buffer | string): Promise<void> {
    if (!this.stdinPiped) return Promise.reject(new AgentError('EBADF', 'stdin was not piped for this command'));
    if (this.stdinClosed) return Promise.reject(new AgentError('EPIPE', 'stdin was already closed'));
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    return this.enqueue(() => this.pump(bytes));
  }

  /** Closes the command's stdin once everything written before has been sent. */
  closeStdin(): Promise<void> {
    if (!this.stdinPiped || this.stdinClosed) return Promise.resolve();
    this.stdinClosed = true;
    return this.enqueue(async () => {
      if (!this.ended && this.failure === undefined) this.port.send(Req.stdinEof);
    });
  }

  /** Sends `signal` (default SIGKILL) to the command's whole process group; no-op once it ended. */
  kill(signal: NodeJS.Signals | number = 'SIGKILL'): void {
    const payload = encodeSignal(signal);
    if (this.ended || this.failure !== undefined) return;
    this.port.send(Req.signal, payload);
  }

  /** Applies one event of this channel (called by the client). */
  handle(frame: Frame): void {
    switch (frame.type) {
      case Ev.started:
        this.pidState.resolve(decodeU32(frame.payload, 'STARTED'));
        return;
      case Ev.stdout:
        return deliver(this.stdoutListeners, frame.payload);
      case Ev.stderr:
        return deliver(this.stderrListeners, frame.payload);
      case Ev.stdinAck:
        this.inflight -= decodeU32(frame.payload, 'STDIN_ACK');
        return this.wake();
      case Ev.exit: {
        const status = decodeExit(frame.payload);
        this.finish();
        this.exitState.resolve({ ...status, timedOut: this.timedOut });
        return;
      }
      case Ev.error: {
        const e = decodeError(frame.payload);
        const err = new AgentError(e.code, `cannot run ${JSON.stringify(this.command)}: ${e.message}`, { errno: e.errno });
        this.finish(err);
        return;
      }
      default:
        throw new AgentProtocolError(`event 0x${frame.type.toString(16)} on command channel ${this.channel}`);
    }
  }

  /** The agent is gone or the channel broke: the command's fate is unknown (called by the client). */
  fail(err: Error): void {
    if (this.ended) return;
    this.finish(err);
  }

  private finish(err?: Error): void {
    this.ended = true;
    if (err !== undefined) this.failure = err;
    clearTimeout(this.timer);
    this.port.release();
    this.wake();
    if (err !== undefined) {
      this.pidState.reject(err);
      this.exitState.reject(err);
    }
  }

  private wake(): void {
    for (const wake of this.wakers.splice(0)) wake();
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const run = this.stdinChain.then(step);
    this.stdinChain = run.catch(() => undefined);
    return run;
  }

  private async pump(bytes: Buffer): Promise<void> {
    for (let off = 0; off < bytes.length; off += STDIN_CHUNK) {
      const piece = bytes.subarray(off, off + STDIN_CHUNK);
      while (!this.ended && this.inflight + piece.length > STDIN_WINDOW) {
        await new Promise<void>((resolve) => this.wakers.push(resolve));
      }
      if (this.failure !== undefined) throw this.failure;
      if (this.ended) return;
      this.inflight += piece.length;
      await this.port.sendData(Req.stdin, piece);
    }
  }
}

/** Calls every listener; one that throws is reported like an EventEmitter's, without breaking the channel. */
function deliver(listeners: Listener[], chunk: Buffer): void {
  for (const listener of listeners) {
    try {
      listener(chunk);
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    }
  }
}
