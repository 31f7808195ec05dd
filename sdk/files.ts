/** `sandbox.files`: read, write and list files inside a persistent sandbox. Paths are absolute. */
import { utf8Text } from './bytes.ts';
import type { AirlockClient, WriteFileOptions } from './client.ts';
import type { CallOptions } from './http.ts';
import type { FileEntry, FileWriteResponse } from './types.ts';

/** Options of `files.read`. */
export interface ReadOptions<F extends 'text' | 'bytes' = 'text' | 'bytes'> extends CallOptions {
  /** `text` (default): decoded as UTF-8; `bytes`: the raw content. */
  format?: F;
}

/** Files of one sandbox. */
export class Files {
  readonly #client: AirlockClient;
  readonly #sandboxId: string;

  /** Files of sandbox `sandboxId`; reach it as `sandbox.files`. */
  constructor(client: AirlockClient, sandboxId: string) {
    this.#client = client;
    this.#sandboxId = sandboxId;
  }

  /** Reads a file as raw bytes. Throws `FileNotFoundError` when it doesn't exist. */
  read(path: string, options: ReadOptions<'bytes'> & { format: 'bytes' }): Promise<Uint8Array>;
  /** Reads a file as UTF-8 text (invalid bytes become U+FFFD). Throws `FileNotFoundError` when it doesn't exist. */
  read(path: string, options?: ReadOptions<'text'>): Promise<string>;
  async read(path: string, options: ReadOptions = {}): Promise<string | Uint8Array> {
    const bytes = await this.#client.readFile(this.#sandboxId, path, options);
    return options.format === 'bytes' ? bytes : utf8Text(bytes);
  }

  /** Creates or replaces a file (a string is written as UTF-8). Returns its path and size. */
  write(path: string, data: string | Uint8Array | ArrayBuffer | Blob, options: WriteFileOptions = {}): Promise<FileWriteResponse> {
    return this.#client.writeFile(this.#sandboxId, path, data, options);
  }

  /** Lists a directory. */
  list(path: string, options: CallOptions = {}): Promise<FileEntry[]> {
    return this.#client.listFiles(this.#sandboxId, path, options);
  }
}
