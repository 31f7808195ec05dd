/**
 * `sandbox.files`: read, write, list, test, make, move, remove and watch files inside a persistent
 * sandbox. Paths are absolute. Read, write and list are the server's file routes; `exists` lists the
 * parent; `makeDir`, `rename` and `remove` run `mkdir`, `mv` and `rm` in the sandbox as argv (no
 * shell, `--` before the paths), so they are admitted and audited as commands; `watchDir` polls.
 */
import { utf8Text } from './bytes.ts';
import type { AirlockClient, WriteFileOptions } from './client.ts';
import { Commands } from './commands.ts';
import { CommandExitError, FileNotFoundError, InvalidRequestError } from './errors.ts';
import type { CallOptions } from './http.ts';
import { checkOptions } from './options.ts';
import { DirectoryWatch, type WatchDirOptions, type FilesystemEvent } from './watch.ts';
import type { FileEntry, FileWriteResponse } from './types.ts';

export type { FilesystemEvent, WatchDirOptions } from './watch.ts';
export { DirectoryWatch } from './watch.ts';

/** How `files.read` returns the content. */
export type ReadFormat = 'text' | 'bytes' | 'blob' | 'stream';

/** Options of `files.read`. */
export interface ReadOptions<F extends ReadFormat = ReadFormat> extends CallOptions {
  /** `text` (default): decoded as UTF-8; `bytes`: a Uint8Array; `blob`: a Blob; `stream`: a ReadableStream. */
  format?: F;
}

/** Data `files.write` takes. */
export type WriteData = string | Uint8Array | ArrayBuffer | Blob;

/** One file of a multi-file `files.write([...])`. */
export interface WriteEntry {
  path: string;
  data: WriteData;
}

const CALL_KEYS: ReadonlySet<string> = new Set(['signal', 'approvalId']);
const READ_KEYS: ReadonlySet<string> = new Set([...CALL_KEYS, 'format']);
const WRITE_KEYS: ReadonlySet<string> = new Set([...CALL_KEYS, 'mode']);
/** E2B's file options airlock lacks, and why. */
const FILE_UNSUPPORTED: Readonly<Record<string, string>> = {
  user: "every file operation runs as the sandbox's one user",
  requestTimeoutMs: 'set requestTimeoutMs on the connection (Sandbox.create / connect)',
  depth: 'one level is listed; list the subfolders you want',
};

/** An absolute path, as the server's file routes require; checked here for the commands that take paths. */
function checkedPath(where: string, path: unknown): string {
  if (typeof path !== 'string' || !path.startsWith('/') || path.includes('\0')) {
    throw new InvalidRequestError(`${where}: "${String(path)}" must be an absolute path inside the sandbox`, { code: 'invalid_argument' });
  }
  return path;
}

/** The parent folder and the name of an absolute path (`/` has no parent). */
function split(path: string): { parent: string; name: string } {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, '') : path;
  const at = trimmed.lastIndexOf('/');
  return { parent: at <= 0 ? '/' : trimmed.slice(0, at), name: trimmed.slice(at + 1) };
}

/** Files of one sandbox. */
export class Files {
  readonly #client: AirlockClient;
  readonly #sandboxId: string;
  readonly #commands: Commands;

  /** Files of sandbox `sandboxId`; reach it as `sandbox.files`. */
  constructor(client: AirlockClient, sandboxId: string) {
    this.#client = client;
    this.#sandboxId = sandboxId;
    this.#commands = new Commands(client, sandboxId);
  }

  /** Reads a file as raw bytes. Throws `FileNotFoundError` when it doesn't exist. */
  read(path: string, options: ReadOptions<'bytes'> & { format: 'bytes' }): Promise<Uint8Array>;
  /** Reads a file as a Blob. */
  read(path: string, options: ReadOptions<'blob'> & { format: 'blob' }): Promise<Blob>;
  /** Reads a file as a stream of bytes. */
  read(path: string, options: ReadOptions<'stream'> & { format: 'stream' }): Promise<ReadableStream<Uint8Array>>;
  /** Reads a file as UTF-8 text (invalid bytes become U+FFFD). Throws `FileNotFoundError` when it doesn't exist. */
  read(path: string, options?: ReadOptions<'text'>): Promise<string>;
  async read(path: string, options: ReadOptions = {}): Promise<string | Uint8Array | Blob | ReadableStream<Uint8Array>> {
    checkOptions('files.read', options, READ_KEYS, FILE_UNSUPPORTED);
    const format = options.format ?? 'text';
    if (!['text', 'bytes', 'blob', 'stream'].includes(format)) throw new InvalidRequestError(`files.read: format must be text, bytes, blob or stream (got ${String(format)})`, { code: 'invalid_argument' });
    const bytes = await this.#client.readFile(this.#sandboxId, path, { signal: options.signal, approvalId: options.approvalId });
    switch (format) {
      case 'bytes':
        return bytes;
      case 'blob':
        return new Blob([bytes as Uint8Array<ArrayBuffer>]);
      case 'stream':
        return new Blob([bytes as Uint8Array<ArrayBuffer>]).stream();
      case 'text':
        return utf8Text(bytes);
    }
  }

  /** Creates or replaces a file (a string is written as UTF-8). Returns its path and size. */
  write(path: string, data: WriteData, options?: WriteFileOptions): Promise<FileWriteResponse>;
  /** Writes several files, one after the other (E2B's multi-file form). */
  write(files: WriteEntry[], options?: WriteFileOptions): Promise<FileWriteResponse[]>;
  async write(pathOrFiles: string | WriteEntry[], dataOrOptions?: WriteData | WriteFileOptions, maybeOptions?: WriteFileOptions): Promise<FileWriteResponse | FileWriteResponse[]> {
    if (Array.isArray(pathOrFiles)) {
      const options = (dataOrOptions ?? {}) as WriteFileOptions;
      checkOptions('files.write', options, WRITE_KEYS, FILE_UNSUPPORTED);
      const written: FileWriteResponse[] = [];
      for (const file of pathOrFiles) written.push(await this.#client.writeFile(this.#sandboxId, file.path, file.data, options));
      return written;
    }
    checkOptions('files.write', maybeOptions, WRITE_KEYS, FILE_UNSUPPORTED);
    return this.#client.writeFile(this.#sandboxId, pathOrFiles, dataOrOptions as WriteData, maybeOptions ?? {});
  }

  /** Lists a directory. Throws `FileNotFoundError` when it doesn't exist. */
  async list(path: string, options: CallOptions = {}): Promise<FileEntry[]> {
    checkOptions('files.list', options, CALL_KEYS, FILE_UNSUPPORTED);
    return this.#client.listFiles(this.#sandboxId, path, options);
  }

  /** The entry of `path` (from a listing of its parent); undefined when there is none. */
  async getInfo(path: string, options: CallOptions = {}): Promise<FileEntry | undefined> {
    checkOptions('files.getInfo', options, CALL_KEYS, FILE_UNSUPPORTED);
    const { parent, name } = split(checkedPath('files.getInfo', path));
    if (name === '') return { name: '/', path: '/', type: 'dir', size: 0, mode: 0o755, modified_at: new Date(0).toISOString() };
    try {
      return (await this.list(parent, options)).find((entry) => entry.name === name);
    } catch (err) {
      if (err instanceof FileNotFoundError) return undefined;
      throw err;
    }
  }

  /** Whether `path` exists (a file, a folder or a link). */
  async exists(path: string, options: CallOptions = {}): Promise<boolean> {
    return (await this.getInfo(path, options)) !== undefined;
  }

  /** Creates a folder and its missing parents. Resolves true when it was created, false when it existed. */
  async makeDir(path: string, options: CallOptions = {}): Promise<boolean> {
    checkOptions('files.makeDir', options, CALL_KEYS, FILE_UNSUPPORTED);
    checkedPath('files.makeDir', path);
    if (await this.exists(path, options)) return false;
    await this.#run(['mkdir', '-p', '--', path], options);
    return true;
  }

  /** Moves or renames `oldPath` to `newPath`; returns the entry at its new place. */
  async rename(oldPath: string, newPath: string, options: CallOptions = {}): Promise<FileEntry> {
    checkOptions('files.rename', options, CALL_KEYS, FILE_UNSUPPORTED);
    checkedPath('files.rename', oldPath);
    checkedPath('files.rename', newPath);
    await this.#run(['mv', '--', oldPath, newPath], options);
    const entry = await this.getInfo(newPath, options);
    if (entry === undefined) throw new FileNotFoundError(`files.rename: ${newPath} is not there after the move`, { code: 'file_not_found' });
    return entry;
  }

  /** Removes a file, or a folder with everything in it. Removing what isn't there is not an error. */
  async remove(path: string, options: CallOptions = {}): Promise<void> {
    checkOptions('files.remove', options, CALL_KEYS, FILE_UNSUPPORTED);
    checkedPath('files.remove', path);
    await this.#run(['rm', '-rf', '--', path], options);
  }

  /**
   * Watches folder `path`: `onEvent` gets `create`, `write`, `chmod` and `remove` events for its
   * entries. Unlike E2B's, the folder is listed every `intervalMs` (default 500 ms), so a change
   * undone within one interval is not seen and a rename reads as remove + create. Resolves once the
   * first listing was taken; `stop()` the returned watch.
   */
  async watchDir(path: string, onEvent: (event: FilesystemEvent) => void | Promise<void>, options: WatchDirOptions = {}): Promise<DirectoryWatch> {
    const watch = new DirectoryWatch((signal) => this.list(checkedPath('files.watchDir', path), { signal }), onEvent, options);
    await watch.start();
    return watch;
  }

  /** Runs a file command; its failure is an error naming the command and its stderr. */
  async #run(argv: string[], options: CallOptions): Promise<void> {
    try {
      await this.#commands.run(argv, { signal: options.signal, approvalId: options.approvalId });
    } catch (err) {
      if (!(err instanceof CommandExitError)) throw err;
      const why = err.stderr.trim() === '' ? `exit ${String(err.exitCode)}` : err.stderr.trim();
      throw new InvalidRequestError(`${argv[0] as string}: ${why}`, { code: 'file_operation_failed', cause: err });
    }
  }
}
