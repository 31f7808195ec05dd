/**
 * The host side of the in-sandbox agent: commands and file operations of one persistent sandbox,
 * multiplexed over the stdin/stdout of its main process (the agent).
 *
 * Every file path is resolved by the agent inside the sandbox's mount namespace, as the sandbox
 * user: a path can only ever name a file of the sandbox, never one of the host.
 *
 * When `closed` resolves the channel is unusable; the owner must then stop the sandbox (a
 * protocol error means the agent, or whatever speaks in its place, can't be trusted).
 */
import type { Readable, Writable } from 'node:stream';
import { AgentClosedError, AgentFileError, AgentProtocolError } from './errors.ts';
import { ExecHandle, type ExecOptions } from './exec-handle.ts';
import {
  decodeEntry, decodeError, decodeReady, encodeExec, encodeMkdir, encodePath, encodeReadFile, encodeRemove, encodeWriteFile,
  type FileEntry, type ReadyEvent,
} from './messages.ts';
import { encodeFrame, Ev, EVENT_TYPES, FrameDecoder, PROTOCOL_VERSION, Req, type Frame } from './protocol.ts';
import { fileOpChannel, rejectFrame, unexpected, type Channel, type Collect } from './file-op.ts';

export { AgentClosedError, AgentError, AgentFileError, AgentProtocolError } from './errors.ts';
export type { ExecHandle, ExecOptions, ExecResult } from './exec-handle.ts';
export type { FileEntry, FileType, ReadyEvent } from './messages.ts';

/** The two streams of the agent process the client needs (a SandboxProcess fits). */
export interface AgentStreams {
  stdin: Writable;
  stdout: Readable;
}

/** Size of one WRITE_DATA frame. */
const WRITE_CHUNK = 256 * 1024;

/** Talks to one agent. Operations may run concurrently; each gets its own channel. */
export class AgentClient {
  /** Resolves (never rejects) with the reason once the channel to the agent is unusable. */
  readonly closed: Promise<Error>;
  private readonly input: Writable;
  private readonly decoder = new FrameDecoder(EVENT_TYPES);
  private readonly channels = new Map<number, Channel>();
  private readonly readyState = Promise.withResolvers<ReadyEvent>();
  private readonly closedState = Promise.withResolvers<Error>();
  private drainWaiters: (() => void)[] = [];
  private nextChannel = 1;
  private failure: Error | undefined;

  constructor(streams: AgentStreams) {
    this.input = streams.stdin;
    this.closed = this.closedState.promise;
    this.readyState.promise.catch(() => undefined);
    // Read continuously: the agent stops reading a command's output when we fall behind.
    streams.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
    streams.stdout.once('end', () => this.fail(new AgentClosedError('the sandbox agent closed its channel')));
    streams.stdout.once('error', (err) => this.fail(new AgentClosedError(`agent channel failed: ${err.message}`)));
    this.input.on('error', (err) => this.fail(new AgentClosedError(`agent channel failed: ${err.message}`)));
    this.input.on('drain', () => this.wakeWriters());
  }

  /** Resolves once the agent announced itself (READY) with the protocol version this host speaks. */
  ready(): Promise<ReadyEvent> {
    return this.readyState.promise;
  }

  /** Starts a command; its handle streams output and resolves `exit` when it ends. */
  exec(options: ExecOptions): ExecHandle {
    const payload = encodeExec({ argv: options.argv, env: options.env, cwd: options.cwd, stdin: options.stdin === true });
    const id = this.allocate();
    const handle = new ExecHandle(id, options, {
      send: (type, data) => this.send(type, id, data),
      sendData: (type, data) => this.sendData(type, id, data),
      release: () => this.channels.delete(id),
    });
    this.channels.set(id, handle);
    this.send(Req.exec, id, payload);
    return handle;
  }

  /** Reads a regular file; refuses (EFBIG) one larger than `maxBytes`, on both sides. */
  readFile(path: string, maxBytes: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let total = 0;
    return this.fileOp(Req.readFile, encodeReadFile(path, maxBytes), path, (frame, id) => {
      if (frame.type !== Ev.data) throw unexpected(frame);
      total += frame.payload.length;
      if (total > maxBytes) {
        this.channels.delete(id);
        throw new AgentFileError('EFBIG', path, `${path} is larger than ${maxBytes} bytes`);
      }
      chunks.push(frame.payload);
    }, () => Buffer.concat(chunks, total)).result;
  }

  /** Writes a file atomically (temp file + rename); a symlink at `path` is replaced, never followed. */
  async writeFile(path: string, data: Buffer | Uint8Array | string, mode = 0o644): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    let settled = false;
    const op = this.fileOp(Req.writeFile, encodeWriteFile(path, mode), path, rejectFrame, () => undefined);
    const result = op.result.finally(() => (settled = true));
    // Handled here, awaited below: a refusal while data is still being sent must not go unhandled.
    result.catch(() => undefined);
    try {
      // Pipelined: if the agent refuses at once, the data frames that follow are ignored.
      for (let off = 0; off < bytes.length && !settled; off += WRITE_CHUNK) {
        await this.sendData(Req.writeData, op.id, bytes.subarray(off, off + WRITE_CHUNK));
      }
      if (!settled) this.send(Req.writeEnd, op.id);
    } catch {
      // The channel failed: `result` rejects with the reason.
    }
    return result;
  }

  /** Lists a directory; symlinks are reported as symlinks. */
  list(path: string): Promise<FileEntry[]> {
    const entries: FileEntry[] = [];
    return this.fileOp(Req.list, encodePath(path), path, (frame) => {
      if (frame.type !== Ev.entry) throw unexpected(frame);
      entries.push(decodeEntry(frame.payload));
    }, () => entries).result;
  }

  /** Describes one path without following a symlink at its last component. */
  stat(path: string): Promise<FileEntry> {
    let entry: FileEntry | undefined;
    return this.fileOp(Req.stat, encodePath(path), path, (frame) => {
      if (frame.type !== Ev.entry || entry !== undefined) throw unexpected(frame);
      entry = decodeEntry(frame.payload);
    }, () => {
      if (entry === undefined) throw new AgentProtocolError('STAT ended without an entry');
      return entry;
    }).result;
  }

  /** Creates a directory (and its parents when asked; an existing directory is then fine). */
  mkdir(path: string, options: { mode?: number; parents?: boolean } = {}): Promise<void> {
    return this.simpleOp(Req.mkdir, encodeMkdir(path, options.mode ?? 0o755, options.parents === true), path);
  }

  /** Removes a file, symlink or empty directory; a whole tree when `recursive` (never following symlinks). */
  remove(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    return this.simpleOp(Req.remove, encodeRemove(path, options.recursive === true), path);
  }

  /** Resolves when the agent answers: proof that its loop is alive. */
  ping(): Promise<void> {
    return this.simpleOp(Req.ping, Buffer.alloc(0), '');
  }

  /** Ends the channel: the agent kills every command it started and exits. */
  close(): void {
    this.fail(new AgentClosedError('the agent channel was closed by the host'));
    this.input.end();
  }

  private onData(chunk: Buffer): void {
    if (this.failure !== undefined) return;
    try {
      for (const frame of this.decoder.push(chunk)) this.dispatch(frame);
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private dispatch(frame: Frame): void {
    if (frame.channel !== 0) {
      // A channel we already gave up on (or that ended) may still have frames on the wire.
      this.channels.get(frame.channel)?.handle(frame);
      return;
    }
    if (frame.type === Ev.ready) {
      const ready = decodeReady(frame.payload);
      if (ready.version !== PROTOCOL_VERSION) throw new AgentProtocolError(`agent speaks version ${ready.version}, not ${PROTOCOL_VERSION}`);
      this.readyState.resolve(ready);
    } else if (frame.type === Ev.error) {
      throw new AgentProtocolError(`the agent refused the channel: ${decodeError(frame.payload).message}`);
    } else {
      throw unexpected(frame);
    }
  }

  private fail(err: Error): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    this.readyState.reject(err);
    for (const channel of [...this.channels.values()]) channel.fail(err);
    this.channels.clear();
    this.wakeWriters();
    this.closedState.resolve(err);
  }

  private allocate(): number {
    if (this.failure !== undefined) throw this.failure;
    let id = this.nextChannel;
    while (id === 0 || this.channels.has(id)) id = (id + 1) >>> 0;
    this.nextChannel = (id + 1) >>> 0;
    return id;
  }

  private send(type: number, channel: number, payload?: Buffer): boolean {
    if (this.failure !== undefined) throw this.failure;
    return this.input.write(encodeFrame(type, channel, payload));
  }

  private async sendData(type: number, channel: number, payload: Buffer): Promise<void> {
    if (this.send(type, channel, payload)) return;
    await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    if (this.failure !== undefined) throw this.failure;
  }

  private wakeWriters(): void {
    for (const wake of this.drainWaiters.splice(0)) wake();
  }

  /** An operation answered by END (or PONG) alone. */
  private simpleOp(type: number, payload: Buffer, path: string): Promise<void> {
    return this.fileOp(type, payload, path, rejectFrame, () => undefined).result;
  }

  /** Runs one file operation on a new channel: `collect` sees its frames until END or ERROR. */
  private fileOp<T>(type: number, payload: Buffer, path: string, collect: Collect, finish: () => T): { id: number; result: Promise<T> } {
    const id = this.allocate();
    const op = fileOpChannel(path, (frame) => collect(frame, id), finish, () => this.channels.delete(id));
    this.channels.set(id, op.channel);
    this.send(type, id, payload);
    return { id, result: op.result };
  }
}
