/**
 * `AirlockClient`: one method per endpoint of the airlock HTTP API, wire shapes in and out
 * (snake_case, as the server's schemas define them). `Sandbox` builds the friendlier object API on
 * top of it.
 */
import { AirlockError } from './errors.ts';
import { Call, Transport, type CallOptions, type ConnectionOptions } from './http.ts';
import { readExecFrames, readOneShotFrames, type OneShotFrame, type StreamFrame } from './ndjson.ts';
import type {
  CancelledExecution,
  CreateSandboxRequest,
  ExecCollectedResponse,
  ExecList,
  ExecRequest,
  ExecuteRequest,
  ExecuteResponse,
  FileEntry,
  FileListResponse,
  FileWriteResponse,
  HealthResponse,
  RunningExec,
  SandboxInfo,
  SandboxList,
  SandboxNetworkInfo,
  SetAllowlistRequest,
  StatusResponse,
} from './types.ts';

/** Options of `new AirlockClient(…)`. */
export type ClientOptions = ConnectionOptions;

/** Options of a streamed exec. */
export interface ExecStreamOptions extends CallOptions {
  /** More cancellation signals (any aborts the exec, which makes the server kill the command). */
  signals?: ReadonlyArray<AbortSignal | undefined>;
  /** Client-side deadline of the whole stream, ms; default none (the server enforces the command's limit). */
  timeoutMs?: number | undefined;
}

/** An exec whose output is streaming in. */
export interface ExecStream {
  /** Server-side id of the exec. */
  execId: string;
  /** Output frames as they arrive, then the exit frame. */
  frames: AsyncGenerator<StreamFrame, void, undefined>;
  /** Maps a failure while reading `frames` to the error to throw (deadline, cancellation, network). */
  fail(err: unknown): unknown;
  /** Cancels the exec (the server kills the command). */
  abort(): void;
}

/** A one-shot whose output is streaming in. */
export interface ExecuteStream {
  /** Server-side id of the run (cancellable with `cancelExecution`). */
  executionId: string;
  /** Output frames as they arrive, then the result frame. */
  frames: AsyncGenerator<OneShotFrame, void, undefined>;
  /** Maps a failure while reading `frames` to the error to throw (deadline, cancellation, network). */
  fail(err: unknown): unknown;
  /** Cancels the run (the server ends it as killed). */
  abort(): void;
}

/** What a streamed request hands back before its frames are read. */
interface OpenedStream<F> {
  id: string;
  frames: AsyncGenerator<F, void, undefined>;
  fail(err: unknown): unknown;
  abort(): void;
}

/** Options of a file write. */
export interface WriteFileOptions extends CallOptions {
  /** Permission bits: a number (0o644) or an octal string ('644', '0755'). */
  mode?: number | string | undefined;
}

/** Seconds `execute` waits for a server-side limit it doesn't know (the configured maximum, 600 s). */
const EXECUTE_DEFAULT_LIMIT_SECONDS = 600;

/** Where a forensic capture's bundle was written, and what became of the sandbox. */
export interface ForensicCaptureInfo {
  path: string;
  sandbox_id: string;
  entries: number;
  bytes: number;
  frozen: 'cgroup-v2' | 'cgroup-v1-freezer' | 'runsc-pause' | null;
  after: 'kill' | 'resume';
  pruned: string[];
}

function sandboxPath(id: string, suffix = ''): string {
  if (typeof id !== 'string' || id === '') throw new AirlockError('sandbox id must be a non-empty string', { code: 'invalid_argument' });
  return `/api/v1/sandboxes/${encodeURIComponent(id)}${suffix}`;
}

/** Octal string of a mode given as a number or a string. */
function modeString(mode: number | string): string {
  return typeof mode === 'number' ? mode.toString(8).padStart(3, '0') : mode;
}

/**
 * A client of one airlock server. Holds no connection state; safe to share. A call that policy
 * sends to a human throws `ApprovalRequiredError` (nothing ran); once approved, repeat the same call
 * with `{ approvalId }`, or let `withApproval` wait and retry.
 */
export class AirlockClient {
  /** The transport (URL building, deadlines, error mapping). */
  readonly transport: Transport;

  constructor(options: ClientOptions = {}) {
    this.transport = new Transport(options);
  }

  /** The server URL this client talks to. */
  get baseUrl(): string {
    return this.transport.baseUrl;
  }

  /** `GET /health`: status, version, policy hash and the runtimes that work on the server's host. */
  health(options: CallOptions = {}): Promise<HealthResponse> {
    return this.transport.json({ method: 'GET', path: '/health', signals: [options.signal], approvalId: options.approvalId });
  }

  /** `GET /api/v1/sandbox/status`: what runs now. */
  status(options: CallOptions = {}): Promise<StatusResponse> {
    return this.transport.json({ method: 'GET', path: '/api/v1/sandbox/status', signals: [options.signal], approvalId: options.approvalId });
  }

  /**
   * `POST /api/v1/sandbox/execute`: runs code or a command (argv, or a string run as `sh -c`) once
   * in a fresh sandbox that is destroyed afterwards. A command that fails is a result with
   * `success: false`, not an exception; refusals (bad request, capacity) throw their typed errors.
   * Aborting `signal` closes the connection, which cancels the run on the server.
   */
  execute(request: ExecuteRequest, options: CallOptions = {}): Promise<ExecuteResponse> {
    const base = this.transport.requestTimeoutMs;
    const timeoutMs = base === 0 ? 0 : base + (request.timeout_seconds ?? EXECUTE_DEFAULT_LIMIT_SECONDS) * 1000;
    return this.transport.json({ method: 'POST', path: '/api/v1/sandbox/execute', json: request, signals: [options.signal], timeoutMs, approvalId: options.approvalId });
  }

  /**
   * `DELETE /api/v1/sandbox/executions/{id}`: cancels a running one-shot (its id is listed by
   * `status()`); resolves once it has ended (`killed`) and been torn down, while its caller still
   * gets the result. Throws `ExecutionNotFoundError` for an unknown id, `ExecutionNotRunningError`
   * for one that has already ended.
   */
  cancelExecution(executionId: string, options: CallOptions = {}): Promise<CancelledExecution> {
    if (typeof executionId !== 'string' || executionId === '') throw new AirlockError('execution id must be a non-empty string', { code: 'invalid_argument' });
    return this.transport.json({ method: 'DELETE', path: `/api/v1/sandbox/executions/${encodeURIComponent(executionId)}`, signals: [options.signal], approvalId: options.approvalId });
  }

  /** `POST /api/v1/sandboxes`: starts a persistent sandbox. */
  createSandbox(request: CreateSandboxRequest = {}, options: CallOptions = {}): Promise<SandboxInfo> {
    return this.transport.json({ method: 'POST', path: '/api/v1/sandboxes', json: request, signals: [options.signal], approvalId: options.approvalId });
  }

  /** `GET /api/v1/sandboxes`: every sandbox the server knows (running, and recently ended). */
  async listSandboxes(options: CallOptions = {}): Promise<SandboxInfo[]> {
    const list = await this.transport.json<SandboxList>({ method: 'GET', path: '/api/v1/sandboxes', signals: [options.signal], approvalId: options.approvalId });
    return list.sandboxes;
  }

  /** `GET /api/v1/sandboxes/{id}`. Throws `SandboxNotFoundError` for an unknown id. */
  getSandbox(id: string, options: CallOptions = {}): Promise<SandboxInfo> {
    return this.transport.json({ method: 'GET', path: sandboxPath(id), signals: [options.signal], approvalId: options.approvalId });
  }

  /** `DELETE /api/v1/sandboxes/{id}`: ends the sandbox; returns it, ended. */
  killSandbox(id: string, options: CallOptions = {}): Promise<SandboxInfo> {
    return this.transport.json({ method: 'DELETE', path: sandboxPath(id), signals: [options.signal], approvalId: options.approvalId });
  }

  /**
   * `POST /api/v1/sandboxes/{id}/forensics` (the admin action): freezes the sandbox, writes a signed
   * forensic bundle on the controller host, then kills or resumes it as the server is configured.
   */
  captureForensics(id: string, options: CallOptions = {}): Promise<ForensicCaptureInfo> {
    return this.transport.json({ method: 'POST', path: sandboxPath(id, '/forensics'), signals: [options.signal], approvalId: options.approvalId });
  }

  /** `POST /api/v1/sandboxes/{id}/timeout`: the sandbox now ends `ttlSeconds` from now unless extended again. */
  setSandboxTimeout(id: string, ttlSeconds: number, options: CallOptions = {}): Promise<SandboxInfo> {
    return this.transport.json({ method: 'POST', path: sandboxPath(id, '/timeout'), json: { ttl_seconds: ttlSeconds }, signals: [options.signal], approvalId: options.approvalId });
  }

  /**
   * `GET /api/v1/sandboxes/{id}/network`: the network policy, allowlist and services of the sandbox,
   * its traffic, allowlist changes and its egress proxy's recent decisions. Answers for ended
   * sandboxes too.
   */
  getSandboxNetwork(id: string, options: CallOptions = {}): Promise<SandboxNetworkInfo> {
    return this.transport.json({ method: 'GET', path: sandboxPath(id, '/network'), signals: [options.signal], approvalId: options.approvalId });
  }

  /**
   * `PUT /api/v1/sandboxes/{id}/network`: replaces the allowlist of a running `restricted` sandbox
   * (effective from its next request; recorded in `allowlist_changes`). Throws
   * `InvalidRequestError` for another policy or a refused entry (the message names each), and
   * `SandboxNotRunningError` once the sandbox has ended.
   */
  setSandboxAllowlist(id: string, allowedHosts: SetAllowlistRequest['allowed_hosts'], options: CallOptions = {}): Promise<SandboxNetworkInfo> {
    const body: SetAllowlistRequest = { allowed_hosts: allowedHosts };
    return this.transport.json({ method: 'PUT', path: sandboxPath(id, '/network'), json: body, signals: [options.signal], approvalId: options.approvalId });
  }

  /**
   * `POST /api/v1/sandboxes/{id}/exec` as an NDJSON stream. Resolves once the server accepted the
   * exec; read `frames` for the output. Aborting (or stopping reading) closes the connection, and
   * the server kills the command.
   */
  async execStream(id: string, request: ExecRequest, options: ExecStreamOptions = {}): Promise<ExecStream> {
    const opened = await this.#openStream(sandboxPath(id, '/exec'), request, options, 'x-airlock-exec-id', readExecFrames);
    return { execId: opened.id, frames: opened.frames, fail: opened.fail, abort: opened.abort };
  }

  /**
   * `POST /api/v1/sandbox/execute` as an NDJSON stream: output frames as the command writes, then
   * the result frame (the execution result `execute` returns). Resolves once the run was admitted
   * and started; refusals throw as with `execute`. Aborting (or stopping reading) closes the
   * connection, which cancels the run on the server.
   */
  async executeStream(request: ExecuteRequest, options: ExecStreamOptions = {}): Promise<ExecuteStream> {
    const opened = await this.#openStream('/api/v1/sandbox/execute', request, options, 'x-airlock-execution-id', readOneShotFrames);
    return { executionId: opened.id, frames: opened.frames, fail: opened.fail, abort: opened.abort };
  }

  /** Sends a request answered with an NDJSON stream; its frames are read by `read`. */
  async #openStream<F>(path: string, json: unknown, options: ExecStreamOptions, idHeader: string, read: (body: ReadableStream<Uint8Array>) => AsyncGenerator<F, void, undefined>): Promise<OpenedStream<F>> {
    const call = new Call(`POST ${path}`, [options.signal, ...(options.signals ?? [])], options.timeoutMs);
    let response: Response;
    try {
      response = await this.transport.send({ method: 'POST', path, json, accept: 'application/x-ndjson', approvalId: options.approvalId }, call);
    } catch (err) {
      call.dispose();
      throw err;
    }
    const body = response.body;
    if (body === null) {
      call.dispose();
      throw new AirlockError(`POST ${path}: the answer has no body`, { code: 'invalid_response' });
    }
    async function* frames(): AsyncGenerator<F, void, undefined> {
      try {
        yield* read(body as ReadableStream<Uint8Array>);
      } finally {
        call.dispose();
      }
    }
    return {
      id: response.headers.get(idHeader) ?? '',
      frames: frames(),
      fail: (err) => call.fail(err),
      abort: () => call.controller.abort(),
    };
  }

  /** `POST /api/v1/sandboxes/{id}/exec?stream=false`: waits and returns the collected output. */
  execCollected(id: string, request: ExecRequest, options: CallOptions = {}): Promise<ExecCollectedResponse> {
    const base = this.transport.requestTimeoutMs;
    const timeoutMs = base === 0 || request.timeout_seconds === undefined ? 0 : base + request.timeout_seconds * 1000;
    return this.transport.json({ method: 'POST', path: sandboxPath(id, '/exec'), query: { stream: 'false' }, json: request, signals: [options.signal], timeoutMs, approvalId: options.approvalId });
  }

  /** `GET /api/v1/sandboxes/{id}/execs`: the commands running in the sandbox now, oldest first. */
  async listExecs(id: string, options: CallOptions = {}): Promise<RunningExec[]> {
    const list = await this.transport.json<ExecList>({ method: 'GET', path: sandboxPath(id, '/execs'), signals: [options.signal], approvalId: options.approvalId });
    return list.execs;
  }

  /**
   * `DELETE /api/v1/sandboxes/{id}/execs/{execId}`: kills a running command (it ends `killed`).
   * Throws `ExecutionNotFoundError` when no command of that id runs.
   */
  async killExec(id: string, execId: string, options: CallOptions = {}): Promise<void> {
    if (typeof execId !== 'string' || execId === '') throw new AirlockError('exec id must be a non-empty string', { code: 'invalid_argument' });
    await this.transport.json({ method: 'DELETE', path: sandboxPath(id, `/execs/${encodeURIComponent(execId)}`), signals: [options.signal], approvalId: options.approvalId });
  }

  /** `GET /api/v1/sandboxes/{id}/files?path=`: the file's bytes. */
  readFile(id: string, path: string, options: CallOptions = {}): Promise<Uint8Array> {
    return this.transport.request(
      { method: 'GET', path: sandboxPath(id, '/files'), query: { path }, accept: 'application/octet-stream', signals: [options.signal], approvalId: options.approvalId },
      async (response) => new Uint8Array(await response.arrayBuffer()),
    );
  }

  /** `PUT /api/v1/sandboxes/{id}/files?path=`: creates or replaces the file. */
  writeFile(id: string, path: string, data: string | Uint8Array | ArrayBuffer | Blob, options: WriteFileOptions = {}): Promise<FileWriteResponse> {
    const body = typeof data === 'string' ? new TextEncoder().encode(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data;
    const query = { path, mode: options.mode === undefined ? undefined : modeString(options.mode) };
    return this.transport.json({
      method: 'PUT',
      path: sandboxPath(id, '/files'),
      query,
      body: body as RequestInit['body'],
      contentType: 'application/octet-stream',
      signals: [options.signal],
      approvalId: options.approvalId,
    });
  }

  /** `GET /api/v1/sandboxes/{id}/files/list?path=`: the entries of a directory. */
  async listFiles(id: string, path: string, options: CallOptions = {}): Promise<FileEntry[]> {
    const list = await this.transport.json<FileListResponse>({ method: 'GET', path: sandboxPath(id, '/files/list'), query: { path }, signals: [options.signal], approvalId: options.approvalId });
    return list.entries;
  }
}
