/**
 * Payloads of the agent protocol: encoders for requests, decoders for events. Pure. Layouts are
 * documented in agent/airlock-agent.c; integers are little-endian, strings length-prefixed.
 */
import { constants } from 'node:os';
import { AgentFileError, AgentProtocolError, errnoName } from './errors.ts';
import { MAX_PAYLOAD } from './protocol.ts';

/** What to run: argv, the complete environment, the working directory, and whether stdin is piped. */
export interface ExecRequest {
  argv: string[];
  /** The whole environment of the command: nothing of the agent's is inherited. */
  env: Record<string, string>;
  cwd: string;
  /** Pipe stdin from the host; otherwise the command reads /dev/null. */
  stdin: boolean;
}

/** Kind of a directory entry (a symlink is reported as itself, never followed). */
export type FileType = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket' | 'unknown';

/** One file inside the sandbox, as LIST and STAT report it. */
export interface FileEntry {
  name: string;
  type: FileType;
  size: number;
  /** Permission bits (07777). */
  mode: number;
  mtime: Date;
}

/** How a command ended: `code` when it exited, `signal` when a signal killed it. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** An ERROR event. */
export interface ErrorEvent {
  errno: number;
  code: string;
  message: string;
}

/** The READY event. */
export interface ReadyEvent {
  version: number;
  pid: number;
  maxPayload: number;
}

const FILE_TYPES: Readonly<Record<string, FileType>> = Object.freeze({
  f: 'file', d: 'dir', l: 'symlink', c: 'char', b: 'block', p: 'fifo', s: 'socket',
});

const SIGNAL_NAMES: ReadonlyMap<number, NodeJS.Signals> = new Map(
  (Object.entries(constants.signals) as [NodeJS.Signals, number][]).reverse().map(([name, n]) => [n, name] as const),
);

/** Linux caps paths at 4096 bytes including the terminating NUL. */
const PATH_MAX = 4096;

/** Checks a path for the agent; refuses what no file can be called. */
export function encodePath(path: string): Buffer {
  // A NUL would end the path early in C: the agent would act on a different file than named.
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
    throw new AgentFileError('EINVAL', String(path), 'a path must be a non-empty string without NUL');
  }
  const bytes = Buffer.from(path, 'utf8');
  if (bytes.length >= PATH_MAX) throw new AgentFileError('ENAMETOOLONG', path, `path of ${bytes.length} bytes is too long`);
  return bytes;
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}

function lengthPrefixed(text: string, what: string): Buffer[] {
  // C strings: an embedded NUL would silently cut an argument or variable short.
  if (text.includes('\0')) throw new TypeError(`${what} contains a NUL byte`);
  const bytes = Buffer.from(text, 'utf8');
  return [u32(bytes.length), bytes];
}

/** EXEC: u8 flags | u32 argc | u32 envc | cwd | argv… | env… */
export function encodeExec(req: ExecRequest): Buffer {
  if (req.argv.length === 0) throw new TypeError('argv is empty');
  const env = Object.entries(req.env);
  const parts: Buffer[] = [Buffer.from([req.stdin ? 1 : 0]), u32(req.argv.length), u32(env.length)];
  parts.push(...lengthPrefixed(req.cwd, 'cwd'));
  req.argv.forEach((arg, i) => parts.push(...lengthPrefixed(arg, `argv[${i}]`)));
  for (const [key, value] of env) {
    // A key with '=' would let one variable smuggle another.
    if (key === '' || key.includes('=')) throw new TypeError(`invalid environment variable name "${key}"`);
    parts.push(...lengthPrefixed(`${key}=${value}`, `env ${key}`));
  }
  const payload = Buffer.concat(parts);
  if (payload.length > MAX_PAYLOAD) throw new RangeError(`command and environment take ${payload.length} bytes, over ${MAX_PAYLOAD}`);
  return payload;
}

/** SIGNAL: u32 signo. */
export function encodeSignal(signal: NodeJS.Signals | number): Buffer {
  const n = typeof signal === 'number' ? signal : constants.signals[signal];
  if (n === undefined || !Number.isInteger(n) || n < 1 || n > 64) throw new TypeError(`unknown signal ${String(signal)}`);
  return u32(n);
}

/** READ_FILE: u64 max bytes | path. */
export function encodeReadFile(path: string, maxBytes: number): Buffer {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`maxBytes must be a non-negative integer`);
  const head = Buffer.allocUnsafe(8);
  head.writeBigUInt64LE(BigInt(maxBytes), 0);
  return Buffer.concat([head, encodePath(path)]);
}

/** WRITE_FILE: u32 mode | path. */
export function encodeWriteFile(path: string, mode: number): Buffer {
  return Buffer.concat([u32(mode & 0o777), encodePath(path)]);
}

/** MKDIR: u32 mode | u8 parents | path. */
export function encodeMkdir(path: string, mode: number, parents: boolean): Buffer {
  return Buffer.concat([u32(mode & 0o1777), Buffer.from([parents ? 1 : 0]), encodePath(path)]);
}

/** REMOVE: u8 recursive | path. */
export function encodeRemove(path: string, recursive: boolean): Buffer {
  return Buffer.concat([Buffer.from([recursive ? 1 : 0]), encodePath(path)]);
}

function need(payload: Buffer, min: number, what: string, exact = false): void {
  if (payload.length < min || (exact && payload.length !== min)) {
    throw new AgentProtocolError(`${what} payload of ${payload.length} bytes (expected ${exact ? '' : 'at least '}${min})`);
  }
}

/** A payload that is one u32 (STARTED, STDIN_ACK). */
export function decodeU32(payload: Buffer, what: string): number {
  need(payload, 4, what, true);
  return payload.readUInt32LE(0);
}

/** READY: u32 version | u32 pid | u32 max payload. */
export function decodeReady(payload: Buffer): ReadyEvent {
  need(payload, 12, 'READY', true);
  return { version: payload.readUInt32LE(0), pid: payload.readUInt32LE(4), maxPayload: payload.readUInt32LE(8) };
}

/** EXIT: u32 code | u32 signal. */
export function decodeExit(payload: Buffer): ExitStatus {
  need(payload, 8, 'EXIT', true);
  const signo = payload.readUInt32LE(4);
  if (signo === 0) return { code: payload.readUInt32LE(0), signal: null };
  return { code: null, signal: SIGNAL_NAMES.get(signo) ?? (`SIG${signo}` as NodeJS.Signals) };
}

/** ERROR: u32 errno | message. */
export function decodeError(payload: Buffer): ErrorEvent {
  need(payload, 4, 'ERROR');
  const errno = payload.readUInt32LE(0);
  return { errno, code: errnoName(errno), message: payload.subarray(4).toString('utf8') };
}

/** ENTRY: u8 kind | u32 mode | u64 size | i64 mtime sec | u32 mtime nsec | name. */
export function decodeEntry(payload: Buffer): FileEntry {
  need(payload, 25, 'ENTRY');
  const seconds = Number(payload.readBigInt64LE(13));
  const nanos = payload.readUInt32LE(21);
  return {
    type: FILE_TYPES[String.fromCharCode(payload.readUInt8(0))] ?? 'unknown',
    mode: payload.readUInt32LE(1) & 0o7777,
    size: Number(payload.readBigUInt64LE(5)),
    mtime: new Date(seconds * 1000 + Math.floor(nanos / 1e6)),
    name: payload.subarray(25).toString('utf8'),
  };
}
