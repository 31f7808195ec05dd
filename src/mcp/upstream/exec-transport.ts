/**
 * An MCP transport over a command running in a sandbox: JSON-RPC messages, one per line, written
 * to the command's stdin and read from its stdout (the MCP stdio transport), through the sandbox
 * agent's exec session. Stderr is handed to a listener (logged), never parsed.
 */
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { ExecResult, ExecSession } from '../../sandbox/service-types.ts';

/** Options of {@link ExecTransport}. */
export interface ExecTransportOptions {
  /** Largest message (line) the server may write; past it the server is ended. */
  maxMessageBytes: number;
  /** Told of each stderr chunk. */
  onStderr?: ((chunk: Buffer) => void) | undefined;
  /** Told how the command ended. */
  onExit?: ((result: ExecResult) => void) | undefined;
}

/** The MCP stdio transport over an {@link ExecSession}. */
export class ExecTransport implements Transport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: (<T extends JSONRPCMessage>(message: T) => void) | undefined;
  readonly #session: ExecSession;
  readonly #options: ExecTransportOptions;
  readonly #buffer: ReadBuffer;
  #closed = false;

  constructor(session: ExecSession, options: ExecTransportOptions) {
    this.#session = session;
    this.#options = options;
    this.#buffer = new ReadBuffer({ maxBufferSize: options.maxMessageBytes });
  }

  async start(): Promise<void> {
    this.#session.onStdout((chunk) => this.#receive(chunk));
    if (this.#options.onStderr !== undefined) this.#session.onStderr(this.#options.onStderr);
    void this.#session.result.then((result) => {
      this.#options.onExit?.(result);
      this.#ended();
    });
  }

  #receive(chunk: Buffer): void {
    try {
      this.#buffer.append(chunk);
    } catch (err) {
      // Why end it: a server that writes a line longer than the limit is flooding the proxy.
      this.onerror?.(err instanceof Error ? err : new Error(String(err)));
      this.#session.kill();
      return;
    }
    for (;;) {
      let message: JSONRPCMessage | null;
      try {
        message = this.#buffer.readMessage();
      } catch (err) {
        // A line that is not JSON-RPC is reported and skipped; the next line may be fine.
        this.onerror?.(err instanceof Error ? err : new Error(String(err)));
        continue;
      }
      if (message === null) return;
      this.onmessage?.(message);
    }
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.#closed) throw new Error('the MCP server has ended');
    this.#session.writeStdin(serializeMessage(message));
  }

  async close(): Promise<void> {
    this.#session.kill();
    this.#ended();
  }

  #ended(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#buffer.clear();
    this.onclose?.();
  }
}
