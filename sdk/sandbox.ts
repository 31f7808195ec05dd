/**
 * `Sandbox`: a persistent sandbox as an object, in the vocabulary E2B users know —
 * `Sandbox.create()`, `sandbox.commands.run()`, `sandbox.files.read/write/list`,
 * `sandbox.setTimeout()`, `sandbox.kill()`.
 */
import { AirlockClient } from './client.ts';
import { Commands } from './commands.ts';
import { Files } from './files.ts';
import type { CallOptions, ConnectionOptions } from './http.ts';
import type { CreateSandboxRequest, SandboxInfo, SandboxNetworkInfo } from './types.ts';

/** Which server to use: an existing client, or the options to make one. */
export interface SandboxConnection extends ConnectionOptions, CallOptions {
  /** Client to use; when given, the connection options are ignored. */
  client?: AirlockClient | undefined;
}

/** Options of `Sandbox.create`: the create request's fields (snake_case, as on the wire) plus the connection. */
export type SandboxCreateOptions = CreateSandboxRequest & SandboxConnection;

function clientOf(connection: SandboxConnection): AirlockClient {
  if (connection.client !== undefined) return connection.client;
  const { baseUrl, fetch, headers, requestTimeoutMs, signer } = connection;
  return new AirlockClient({ baseUrl, fetch, headers, requestTimeoutMs, signer });
}

/** A persistent sandbox on an airlock server. */
export class Sandbox {
  /** The sandbox id. */
  readonly id: string;
  /** The client this sandbox talks through. */
  readonly client: AirlockClient;
  /** Runs commands in this sandbox. */
  readonly commands: Commands;
  /** Reads, writes and lists files in this sandbox. */
  readonly files: Files;

  /** Wraps an existing sandbox id without checking it; prefer `Sandbox.connect`. */
  constructor(id: string, client: AirlockClient) {
    this.id = id;
    this.client = client;
    this.commands = new Commands(client, id);
    this.files = new Files(client, id);
  }

  /**
   * Starts a sandbox. Request fields are the server's (`runtime`, `image`, `limits`, `ttl_seconds`,
   * `metadata`, `environment`, `network_policy`, `allowed_hosts`, `services`, …); connection fields
   * pick the server. Throws `RateLimitError` at capacity, `InvalidRequestError` for a refused field
   * (an allowlist entry that is too broad, say, with the reason), `ApprovalRequiredError` when policy
   * asks an approver first (`network_policy: 'full'` for an agent, by default): repeat the same
   * create with `approvalId` once approved.
   */
  static async create(options: SandboxCreateOptions = {}): Promise<Sandbox> {
    // Why every connection field is taken out: the rest is the request body, and a key must never be sent.
    const { client: _client, baseUrl: _baseUrl, fetch: _fetch, headers: _headers, requestTimeoutMs: _timeout, signer: _signer, signal, approvalId, ...request } = options;
    const client = clientOf(options);
    const info = await client.createSandbox(request, { signal, approvalId });
    return new Sandbox(info.sandbox_id, client);
  }

  /** Attaches to an existing sandbox. Throws `SandboxNotFoundError` when the server doesn't know it. */
  static async connect(id: string, connection: SandboxConnection = {}): Promise<Sandbox> {
    const client = clientOf(connection);
    const info = await client.getSandbox(id, { signal: connection.signal, approvalId: connection.approvalId });
    return new Sandbox(info.sandbox_id, client);
  }

  /** Every sandbox the server knows. */
  static list(connection: SandboxConnection = {}): Promise<SandboxInfo[]> {
    return clientOf(connection).listSandboxes({ signal: connection.signal, approvalId: connection.approvalId });
  }

  /** The sandbox as the server describes it now (state, limits, expiry, metadata). */
  info(options: CallOptions = {}): Promise<SandboxInfo> {
    return this.client.getSandbox(this.id, options);
  }

  /** Whether the sandbox is still running. */
  async isRunning(options: CallOptions = {}): Promise<boolean> {
    return (await this.info(options)).state === 'running';
  }

  /** Sets the idle lifetime: the sandbox ends `seconds` from now unless extended again. */
  setTimeout(seconds: number, options: CallOptions = {}): Promise<SandboxInfo> {
    return this.client.setSandboxTimeout(this.id, seconds, options);
  }

  /** Its network: policy, allowlist, services, traffic and the egress proxy's recent decisions. */
  network(options: CallOptions = {}): Promise<SandboxNetworkInfo> {
    return this.client.getSandboxNetwork(this.id, options);
  }

  /**
   * Replaces the allowlist (network_policy `restricted` only), effective from the next request;
   * returns the network with the new allowlist. `[]` allows nothing.
   */
  setAllowlist(allowedHosts: string[], options: CallOptions = {}): Promise<SandboxNetworkInfo> {
    return this.client.setSandboxAllowlist(this.id, allowedHosts, options);
  }

  /** Ends the sandbox (every process killed, everything released); returns it, ended. */
  kill(options: CallOptions = {}): Promise<SandboxInfo> {
    return this.client.killSandbox(this.id, options);
  }
}
