/**
 * `sandbox.commands`: run a command in a persistent sandbox with its output streamed to callbacks,
 * either waiting for it (`run`) or in the background (`run(…, {background: true})` → a
 * `CommandHandle` with `wait()` and `kill()`).
 *
 * A string command runs as `sh -c <string>` (POSIX sh is in every image, and the command's stdin
 * stays free for `stdin`); pass an argv array to run a program directly, e.g.
 * `['bash', '-c', script]` for bash features.
 */
import { base64ToBytes, bytesToBase64, utf8Bytes, utf8Text } from './bytes.ts';
import type { AirlockClient } from './client.ts';
import type { BackgroundRunOptions, CommandResult, ForegroundRunOptions, RunOptions } from './command-types.ts';
import { AirlockError, CommandExitError, ExecutionNotFoundError, InvalidRequestError, TimeoutError } from './errors.ts';
import type { CallOptions } from './http.ts';
import { checkOptions } from './options.ts';
import type { ExecExitFrame, ExecRequest, RunningExec } from './types.ts';

/** A running command as `commands.list()` shows it, in E2B's shape, with the server's fields beside. */
export interface ProcessInfo {
  /** The exec id: what `commands.kill` takes (a string here, a number in E2B). */
  pid: string;
  /** The program (argv[0]). */
  cmd: string;
  /** The arguments after it. */
  args: string[];
  cwd: string;
  /** When it started (ISO 8601). */
  startedAt: string;
}

/** Extra time the client allows past a command's own limit before giving up on the server. */
const CLIENT_GRACE_MS = 15_000;

const CALL_KEYS: ReadonlySet<string> = new Set(['signal', 'approvalId']);
const RUN_KEYS: ReadonlySet<string> = new Set(['onStdout', 'onStderr', 'timeoutMs', 'stdin', 'envs', 'env', 'cwd', 'signal', 'approvalId', 'background']);
/** E2B's run options airlock lacks, and why. */
const RUN_UNSUPPORTED: Readonly<Record<string, string>> = {
  user: 'every command runs as the sandbox\'s one unprivileged user',
  requestTimeoutMs: 'set requestTimeoutMs on the connection (Sandbox.create / connect)',
  onPty: 'there are no terminals (pty)',
  tag: 'commands have no tags',
};

/** The wire request for a command and run options; an unknown option is an `InvalidRequestError`. */
export function execRequestOf(command: string | readonly string[], options: RunOptions & { background?: boolean | undefined }): ExecRequest {
  checkOptions('commands.run', options, RUN_KEYS, RUN_UNSUPPORTED);
  if (typeof options.stdin === 'boolean') {
    throw new InvalidRequestError('commands.run: stdin is the input written to the command (a string or bytes); keeping stdin open for sendStdin is not supported', { code: 'invalid_argument' });
  }
  const argv = typeof command === 'string' ? ['sh', '-c', command] : [...command];
  if (argv.length === 0) throw new AirlockError('command: give a string or a non-empty argv array', { code: 'invalid_argument' });
  const request: ExecRequest = { command: argv };
  if (options.envs !== undefined && options.env !== undefined) throw new InvalidRequestError('envs and env: give one of them', { code: 'invalid_argument' });
  const env = options.envs ?? options.env;
  if (env !== undefined) request.environment = { ...env };
  if (options.cwd !== undefined) request.cwd = options.cwd;
  if (options.timeoutMs !== undefined) request.timeout_seconds = options.timeoutMs / 1000;
  if (typeof options.stdin === 'string') request.stdin = options.stdin;
  else if (options.stdin !== undefined) {
    request.stdin = bytesToBase64(options.stdin);
    request.stdin_encoding = 'base64';
  }
  return request;
}

/** A command running in a sandbox. */
export class CommandHandle {
  readonly #kill = new AbortController();
  readonly #stdout: string[] = [];
  readonly #stderr: string[] = [];
  readonly #started = Date.now();
  readonly #done: Promise<CommandResult>;
  readonly #accepted: Promise<void>;
  #onAccepted: () => void = () => undefined;
  #execId = '';
  #exit: ExecExitFrame | undefined;
  #settled = false;
  #killed = false;

  /** Starts the command; use `sandbox.commands.run(…, {background: true})` rather than this. */
  constructor(client: AirlockClient, sandboxId: string, request: ExecRequest, options: RunOptions) {
    this.#accepted = new Promise((resolve) => (this.#onAccepted = resolve));
    this.#done = this.#run(client, sandboxId, request, options).finally(() => {
      this.#settled = true;
    });
    // A background command nobody waits for must not crash the process with an unhandled rejection.
    this.#done.catch(() => undefined);
  }

  /** Server-side id of the exec; empty until the server has accepted it. */
  get execId(): string {
    return this.#execId;
  }

  /** E2B's name for the command's id: here the exec id (a string), which `commands.kill` takes. */
  get pid(): string {
    return this.#execId;
  }

  /** Its exit code once it has ended (null when a signal or a limit ended it); undefined while it runs. */
  get exitCode(): number | null | undefined {
    return this.#exit === undefined ? undefined : this.#exit.exit_code;
  }

  /** Output so far (all of it once the command has ended). */
  get stdout(): string {
    return this.#stdout.join('');
  }

  /** Error output so far. */
  get stderr(): string {
    return this.#stderr.join('');
  }

  /**
   * Resolves once the server has started the command (its `execId` is known), or it has ended;
   * rejects with the error when it could not start.
   */
  async started(): Promise<void> {
    await Promise.race([this.#accepted, this.#done.then(() => undefined)]);
  }

  /**
   * Waits for the command to end. Resolves with the result on exit code 0; rejects with
   * `CommandExitError` (non-zero exit, signal, kill, limit) or `TimeoutError` (its `timeoutMs`),
   * both carrying the result, or with the error that broke the stream.
   */
  wait(): Promise<CommandResult> {
    return this.#done;
  }

  /**
   * Kills the command: the exec's connection is closed and the server kills the command. Resolves
   * true if it was still running, false if it had already ended. `wait()` then rejects with
   * `CommandExitError` (`terminationReason: 'killed'`).
   */
  async kill(): Promise<boolean> {
    if (this.#settled) return false;
    this.#killed = true;
    this.#kill.abort();
    await this.#done.catch(() => undefined);
    return true;
  }

  #result(exit: ExecExitFrame | undefined): CommandResult {
    return {
      execId: this.#execId,
      stdout: this.stdout,
      stderr: this.stderr,
      exitCode: exit?.exit_code ?? null,
      signal: exit?.signal ?? null,
      terminationReason: exit?.termination_reason ?? 'killed',
      durationMs: exit?.duration_ms ?? Date.now() - this.#started,
    };
  }

  async #run(client: AirlockClient, sandboxId: string, request: ExecRequest, options: RunOptions): Promise<CommandResult> {
    const timeoutMs = options.timeoutMs === undefined ? undefined : options.timeoutMs + CLIENT_GRACE_MS;
    let exit: ExecExitFrame | undefined;
    let listenerFailure: { error: unknown } | undefined;
    try {
      const stream = await client.execStream(sandboxId, request, { signals: [this.#kill.signal, options.signal], timeoutMs, approvalId: options.approvalId });
      this.#execId = stream.execId;
      this.#onAccepted();
      try {
        for await (const frame of stream.frames) {
          if (frame.type === 'exit') {
            exit = frame;
            this.#exit = frame;
            break;
          }
          const bytes = frame.encoding === 'base64' ? base64ToBytes(frame.data) : utf8Bytes(frame.data);
          const text = frame.encoding === 'base64' ? utf8Text(bytes) : frame.data;
          (frame.type === 'stdout' ? this.#stdout : this.#stderr).push(text);
          try {
            (frame.type === 'stdout' ? options.onStdout : options.onStderr)?.(text, bytes);
          } catch (error) {
            // Leaving the loop closes the stream, so the command is killed rather than left unread.
            listenerFailure = { error };
            break;
          }
        }
      } catch (err) {
        if (!this.#killed) throw stream.fail(err);
      }
    } catch (err) {
      if (!this.#killed) throw err;
    }
    if (listenerFailure !== undefined) throw listenerFailure.error;
    const result = this.#result(exit);
    if (result.terminationReason === 'completed' && result.exitCode === 0) return result;
    if (result.terminationReason === 'timeout') {
      const limit = options.timeoutMs !== undefined ? `${options.timeoutMs} ms` : "the sandbox's per-command limit";
      throw new TimeoutError(`command timed out after ${limit}`, { code: 'timeout', result });
    }
    throw new CommandExitError(result);
  }
}

/** Runs commands in one sandbox. */
export class Commands {
  readonly #client: AirlockClient;
  readonly #sandboxId: string;

  /** Commands of sandbox `sandboxId`; reach it as `sandbox.commands`. */
  constructor(client: AirlockClient, sandboxId: string) {
    this.#client = client;
    this.#sandboxId = sandboxId;
  }

  /** Starts the command and returns its handle once the server runs it. */
  run(command: string | readonly string[], options: BackgroundRunOptions): Promise<CommandHandle>;
  /**
   * Runs the command and waits for it. Resolves with the result on exit code 0; rejects with
   * `CommandExitError` (carrying the result) otherwise, `TimeoutError` past `timeoutMs`.
   */
  run(command: string | readonly string[], options?: ForegroundRunOptions): Promise<CommandResult>;
  /** Either of the above, decided by `options.background` at run time. */
  run(command: string | readonly string[], options: RunOptions & { background?: boolean | undefined }): Promise<CommandHandle | CommandResult>;
  async run(command: string | readonly string[], options: RunOptions & { background?: boolean | undefined } = {}): Promise<CommandHandle | CommandResult> {
    const handle = new CommandHandle(this.#client, this.#sandboxId, execRequestOf(command, options), options);
    if (options.background !== true) return handle.wait();
    // As E2B's: a background run resolves once the command runs (with its id), or rejects when it can't start.
    await handle.started();
    return handle;
  }

  /** The commands running in the sandbox now (started by anyone), oldest first. */
  async list(options: CallOptions = {}): Promise<ProcessInfo[]> {
    checkOptions('commands.list', options, CALL_KEYS, RUN_UNSUPPORTED);
    const execs: RunningExec[] = await this.#client.listExecs(this.#sandboxId, options);
    return execs.map((e) => ({ pid: e.exec_id, cmd: e.command[0] ?? '', args: e.command.slice(1), cwd: e.cwd, startedAt: e.started_at }));
  }

  /**
   * Kills the running command `pid` (a handle's `pid`, or one from `list()`): it ends `killed`, and
   * whoever waits on it gets `CommandExitError`. Resolves true when it was running, false when no
   * command of that id runs (as E2B's).
   */
  async kill(pid: string, options: CallOptions = {}): Promise<boolean> {
    checkOptions('commands.kill', options, CALL_KEYS, RUN_UNSUPPORTED);
    try {
      await this.#client.killExec(this.#sandboxId, pid, options);
      return true;
    } catch (err) {
      if (err instanceof ExecutionNotFoundError) return false;
      throw err;
    }
  }
}
