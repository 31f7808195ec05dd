/**
 * The one sandbox an `airlock mcp-server` session works in: created on the first tool call (so a
 * client that only lists tools costs nothing), shared by every later call (files written by one are
 * read by the next), and killed when the session ends. One that ended on its own (its TTL, a limit,
 * a revocation) is replaced on the next call, and the call that found it ended says so.
 */
import type { AirlockClient } from '../../sdk/client.ts';
import { SandboxNotFoundError, SandboxNotRunningError } from '../../sdk/errors.ts';
import { Sandbox, type SandboxCreateOptions } from '../../sdk/sandbox.ts';

/** What the session's sandbox is created with: the create request's fields, without a connection. */
export type SessionSandboxOptions = Omit<SandboxCreateOptions, 'client' | 'baseUrl' | 'fetch' | 'headers' | 'requestTimeoutMs' | 'signer' | 'retry' | 'signal' | 'approvalId'>;

/** A lazily created sandbox, killed on `close()`. */
export class SandboxSession {
  readonly #client: AirlockClient;
  readonly #options: SessionSandboxOptions;
  #sandbox: Promise<Sandbox> | undefined;
  #closed = false;

  constructor(client: AirlockClient, options: SessionSandboxOptions = {}) {
    this.#client = client;
    this.#options = options;
  }

  /** The sandbox, created by the first caller; a failed creation is retried by the next call. */
  sandbox(): Promise<Sandbox> {
    if (this.#closed) return Promise.reject(new Error('the session has ended'));
    if (this.#sandbox === undefined) {
      const creating = Sandbox.create({ ...this.#options, client: this.#client });
      this.#sandbox = creating;
      creating.catch(() => {
        if (this.#sandbox === creating) this.#sandbox = undefined;
      });
    }
    return this.#sandbox;
  }

  /**
   * Runs `work` in the sandbox. When the sandbox turns out to have ended, it is forgotten (the next
   * call creates another) and the error says so: the files of the old one are gone.
   */
  async use<T>(work: (sandbox: Sandbox) => Promise<T>): Promise<T> {
    const pending = this.sandbox();
    const sandbox = await pending;
    try {
      return await work(sandbox);
    } catch (err) {
      if (!(err instanceof SandboxNotRunningError || err instanceof SandboxNotFoundError)) throw err;
      if (this.#sandbox === pending) this.#sandbox = undefined;
      throw new Error(`${err.message}; the next call starts a new sandbox, without this one's files`, { cause: err });
    }
  }

  /** The id of the sandbox once created; undefined before. */
  async sandboxId(): Promise<string | undefined> {
    return this.#sandbox === undefined ? undefined : (await this.#sandbox.catch(() => undefined))?.sandboxId;
  }

  /**
   * Kills the sandbox, if one was created (one that has already ended is fine); rejects when it
   * could not be killed. Idempotent; later calls to `sandbox()` reject.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const pending = this.#sandbox;
    if (pending === undefined) return;
    const sandbox = await pending.catch(() => undefined);
    // Why it is waited for: a sandbox left running would outlive the client that asked for it until its TTL.
    if (sandbox === undefined) return;
    try {
      await sandbox.kill();
    } catch (err) {
      if (!(err instanceof SandboxNotFoundError || err instanceof SandboxNotRunningError)) throw err;
    }
  }
}
