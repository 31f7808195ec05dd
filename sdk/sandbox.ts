/**
 * `Sandbox`: a persistent sandbox as an object, in E2B's vocabulary where it means the same thing —
 * `Sandbox.create(template?, {timeoutMs, envs, metadata})`, `sandbox.sandboxId`,
 * `sandbox.commands.run()`, `sandbox.files.read/write/list/…`, `sandbox.setTimeout(ms)`,
 * `sandbox.getInfo()`, `sandbox.kill()`, and the static `Sandbox.connect/list/kill/getInfo/setTimeout`.
 * docs/sdk.md has the table of every E2B method and option: same, differs, or not supported.
 */
import type { AirlockClient } from './client.ts';
import { Commands } from './commands.ts';
import { clientOf, CONNECTION_KEYS, type SandboxConnection } from './connection.ts';
import { InvalidRequestError, SandboxNotFoundError } from './errors.ts';
import { Files } from './files.ts';
import type { CallOptions } from './http.ts';
import { checkOptions, secondsOfMs } from './options.ts';
import type { CreateSandboxRequest, SandboxInfo, SandboxNetworkInfo } from './types.ts';

export type { SandboxConnection } from './connection.ts';

/** E2B's names for what a create request says. */
export interface E2BCreateOptions {
  /** How long the sandbox lives, ms (E2B's name; rounded up to whole seconds): `ttl_seconds` on the wire. */
  timeoutMs?: number | undefined;
  /** Environment variables of every command in it (E2B's name): `environment` on the wire. */
  envs?: Record<string, string> | undefined;
  /** true: `network_policy: 'full'`; false: `'none'`. Unlike E2B the default is no network. */
  allowInternetAccess?: boolean | undefined;
}

/** Options of `Sandbox.create`: the create request's fields (snake_case, as on the wire), E2B's names, and the connection. */
export type SandboxCreateOptions = CreateSandboxRequest & E2BCreateOptions & SandboxConnection;

/** Options of `Sandbox.connect`: the connection, and E2B's `timeoutMs` (a new lifetime from now). */
export type SandboxConnectOptions = SandboxConnection & { timeoutMs?: number | undefined };

/** The sandbox in E2B's shape (`getInfo()`), with the server's full description beside it. */
export interface SandboxSummary {
  sandboxId: string;
  /** The image it runs (E2B: the template). */
  templateId: string;
  metadata: Record<string, string>;
  startedAt: Date;
  /** When it ends unless extended (`setTimeout`). */
  endAt: Date;
  state: 'running' | 'ended';
  /** Everything the server says about it (limits, runtime, network, violations, end reason). */
  info: SandboxInfo;
}

const CREATE_WIRE_KEYS = [
  'runtime', 'image', 'limits', 'ttl_seconds', 'metadata', 'environment', 'secrets', 'filesystem_access',
  'network_policy', 'allowed_hosts', 'services', 'agent_id', 'expected_policy_hash',
] as const satisfies ReadonlyArray<keyof CreateSandboxRequest>;
const E2B_CREATE_KEYS = ['timeoutMs', 'envs', 'allowInternetAccess'] as const satisfies ReadonlyArray<keyof E2BCreateOptions>;
const CREATE_KEYS: ReadonlySet<string> = new Set([...CONNECTION_KEYS, ...CREATE_WIRE_KEYS, ...E2B_CREATE_KEYS]);
const CONNECT_KEYS: ReadonlySet<string> = new Set([...CONNECTION_KEYS, 'timeoutMs']);
const CALL_KEYS: ReadonlySet<string> = new Set(['signal', 'approvalId']);
const AUTH = 'airlock authenticates with a signing key (AIRLOCK_KEY, or the signer option) or the local unix socket';

/** E2B's create/connect options airlock lacks, and why. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  apiKey: AUTH,
  accessToken: AUTH,
  domain: 'name the server with AIRLOCK_URL or baseUrl',
  secure: 'sandboxes have no public URLs; every request to the server is authenticated',
  debug: 'there is no debug mode',
  logger: 'the SDK does not log',
  autoPause: 'sandboxes cannot be paused',
  lifecycle: 'sandboxes cannot be paused',
  mcp: 'run `airlock mcp-server` instead',
  network: 'use network_policy, allowed_hosts and services',
  template: 'give the template (the image) as the first argument, or as image',
  requestTimeoutMs: 'set requestTimeoutMs on the connection (Sandbox.create / connect)',
};

/** The create request for E2B's and the wire's fields together; a field given both ways is refused. */
function createRequest(template: string | undefined, options: SandboxCreateOptions): CreateSandboxRequest {
  const request: CreateSandboxRequest = {};
  for (const key of CREATE_WIRE_KEYS) if (options[key] !== undefined) (request as Record<string, unknown>)[key] = options[key];
  const both = (e2b: string, wire: string) => new InvalidRequestError(`${e2b} and ${wire}: give one of them`, { code: 'invalid_argument' });
  if (template !== undefined) {
    if (typeof template !== 'string' || template === '') throw new InvalidRequestError('template: must be an image name', { code: 'invalid_argument' });
    if (request.image !== undefined && request.image !== template) throw both('template', 'image');
    request.image = template;
  }
  if (options.timeoutMs !== undefined) {
    if (request.ttl_seconds !== undefined) throw both('timeoutMs', 'ttl_seconds');
    request.ttl_seconds = secondsOfMs('timeoutMs', options.timeoutMs);
  }
  if (options.envs !== undefined) {
    if (request.environment !== undefined) throw both('envs', 'environment');
    request.environment = options.envs;
  }
  if (options.allowInternetAccess !== undefined) {
    if (request.network_policy !== undefined) throw both('allowInternetAccess', 'network_policy');
    if (typeof options.allowInternetAccess !== 'boolean') throw new InvalidRequestError('allowInternetAccess: must be true or false', { code: 'invalid_argument' });
    request.network_policy = options.allowInternetAccess ? 'full' : 'none';
  }
  return request;
}

/** A persistent sandbox on an airlock server. */
export class Sandbox {
  /** The sandbox id. */
  readonly id: string;
  /** The client this sandbox talks through. */
  readonly client: AirlockClient;
  /** Runs, lists and kills commands in this sandbox. */
  readonly commands: Commands;
  /** Reads, writes, lists, moves and removes files in this sandbox. */
  readonly files: Files;

  /** Wraps an existing sandbox id without checking it; prefer `Sandbox.connect`. */
  constructor(id: string, client: AirlockClient) {
    this.id = id;
    this.client = client;
    this.commands = new Commands(client, id);
    this.files = new Files(client, id);
  }

  /** The sandbox id (E2B's name for `id`). */
  get sandboxId(): string {
    return this.id;
  }

  /**
   * Starts a sandbox from `template` (an image name; default the server's default image). Options:
   * E2B's `timeoutMs`, `envs`, `metadata`, `allowInternetAccess`; the server's request fields
   * (`runtime`, `limits`, `ttl_seconds`, `network_policy`, `allowed_hosts`, `services`, `secrets`,
   * `filesystem_access`, …); and the connection (default: `AIRLOCK_URL` / `AIRLOCK_KEY`). An unknown
   * option is an `InvalidRequestError`. Throws `RateLimitError` at capacity (after the retries),
   * `InvalidRequestError` for a refused field (with the reason), `ApprovalRequiredError` when policy
   * asks an approver first: repeat the same create with `approvalId` once approved.
   */
  static create(options?: SandboxCreateOptions): Promise<Sandbox>;
  static create(template: string, options?: SandboxCreateOptions): Promise<Sandbox>;
  static async create(templateOrOptions?: string | SandboxCreateOptions, maybeOptions?: SandboxCreateOptions): Promise<Sandbox> {
    const template = typeof templateOrOptions === 'string' ? templateOrOptions : undefined;
    const options = (typeof templateOrOptions === 'string' ? maybeOptions : templateOrOptions) ?? {};
    checkOptions('Sandbox.create', options, CREATE_KEYS, UNSUPPORTED);
    // Why only the listed wire fields are copied: a connection field (a key) must never be sent.
    const request = createRequest(template, options);
    const client = await clientOf(options);
    const info = await client.createSandbox(request, { signal: options.signal, approvalId: options.approvalId });
    return new Sandbox(info.sandbox_id, client);
  }

  /**
   * Attaches to an existing sandbox; with `timeoutMs`, it then lives that long from now. Throws
   * `SandboxNotFoundError` when the server doesn't know it.
   */
  static async connect(id: string, options: SandboxConnectOptions = {}): Promise<Sandbox> {
    checkOptions('Sandbox.connect', options, CONNECT_KEYS, UNSUPPORTED);
    const client = await clientOf(options);
    const info = await client.getSandbox(id, { signal: options.signal, approvalId: options.approvalId });
    const sandbox = new Sandbox(info.sandbox_id, client);
    if (options.timeoutMs !== undefined) await sandbox.setTimeout(options.timeoutMs, { signal: options.signal });
    return sandbox;
  }

  /** Every sandbox the server shows this caller (running, and recently ended). */
  static async list(options: SandboxConnection = {}): Promise<SandboxInfo[]> {
    checkOptions('Sandbox.list', options, CONNECTION_KEYS, { query: 'filter the returned list (metadata, state) yourself' });
    return (await clientOf(options)).listSandboxes({ signal: options.signal, approvalId: options.approvalId });
  }

  /** Ends sandbox `id`. Resolves true when it was running, false when it had ended or is unknown (as E2B's). */
  static async kill(id: string, options: SandboxConnection = {}): Promise<boolean> {
    checkOptions('Sandbox.kill', options, CONNECTION_KEYS, UNSUPPORTED);
    const client = await clientOf(options);
    try {
      const before = await client.getSandbox(id, { signal: options.signal });
      if (before.state !== 'running') return false;
      await client.killSandbox(id, { signal: options.signal, approvalId: options.approvalId });
      return true;
    } catch (err) {
      if (err instanceof SandboxNotFoundError) return false;
      throw err;
    }
  }

  /** `getInfo()` of sandbox `id`. */
  static async getInfo(id: string, options: SandboxConnection = {}): Promise<SandboxSummary> {
    checkOptions('Sandbox.getInfo', options, CONNECTION_KEYS, UNSUPPORTED);
    return new Sandbox(id, await clientOf(options)).getInfo({ signal: options.signal, approvalId: options.approvalId });
  }

  /** `setTimeout(timeoutMs)` of sandbox `id`. */
  static async setTimeout(id: string, timeoutMs: number, options: SandboxConnection = {}): Promise<SandboxInfo> {
    checkOptions('Sandbox.setTimeout', options, CONNECTION_KEYS, UNSUPPORTED);
    return new Sandbox(id, await clientOf(options)).setTimeout(timeoutMs, { signal: options.signal, approvalId: options.approvalId });
  }

  /** The sandbox as the server describes it now (state, limits, expiry, metadata). */
  info(options: CallOptions = {}): Promise<SandboxInfo> {
    return this.client.getSandbox(this.id, options);
  }

  /** The sandbox in E2B's shape (`sandboxId`, `templateId`, `metadata`, `startedAt`, `endAt`, `state`), and the server's `info`. */
  async getInfo(options: CallOptions = {}): Promise<SandboxSummary> {
    checkOptions('getInfo', options, CALL_KEYS, UNSUPPORTED);
    const info = await this.info(options);
    return {
      sandboxId: info.sandbox_id,
      templateId: info.image,
      metadata: info.metadata,
      startedAt: new Date(info.created_at),
      endAt: new Date(info.ended_at ?? info.expires_at),
      state: info.state,
      info,
    };
  }

  /** Whether the sandbox is still running. */
  async isRunning(options: CallOptions = {}): Promise<boolean> {
    return (await this.info(options)).state === 'running';
  }

  /**
   * Sets its lifetime, in milliseconds as E2B has it: the sandbox ends `timeoutMs` from now (rounded
   * up to whole seconds) unless extended again. At most the server's maximum (24 h by default).
   */
  async setTimeout(timeoutMs: number, options: CallOptions = {}): Promise<SandboxInfo> {
    checkOptions('setTimeout', options, CALL_KEYS, UNSUPPORTED);
    return this.client.setSandboxTimeout(this.id, secondsOfMs('timeoutMs', timeoutMs), options);
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
  async kill(options: CallOptions = {}): Promise<SandboxInfo> {
    checkOptions('kill', options, CALL_KEYS, UNSUPPORTED);
    return this.client.killSandbox(this.id, options);
  }
}
