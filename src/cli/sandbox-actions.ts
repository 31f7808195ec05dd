/**
 * The `airlock sandbox …` implementations, on the SDK. Loaded only when such a command runs.
 * Results go to stdout, diagnostics to stderr; each function returns the process exit code.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { MAX_STDIN_BYTES } from '../sandbox/request-rules.ts';
import { buffer } from 'node:stream/consumers';
import type { AirlockClient } from '../../sdk/client.ts';
import { CommandExitError, TimeoutError } from '../../sdk/errors.ts';
import { Sandbox } from '../../sdk/sandbox.ts';
import type { CommandResult, RunOptions } from '../../sdk/command-types.ts';
import { formatFileTable, formatSandboxTable } from './sandbox-format.ts';
import { terminalSafe, terminalSafeJson } from './terminal-text.ts';
import { checkSandboxPath, createRequestOf, loopbackAllowNote, parseMode, parsePositive, type RawCreateOptions, type RawExecOptions } from './sandbox-options.ts';
import { checkAllowEntries, parseEnv } from './sandbox-spec-options.ts';
import { withServerClient, type ServerOptions } from './server-connection.ts';
import type { ApprovalFlags } from './approval-flags.ts';
import { approvalFlag, runWithApproval } from './approval-retry.ts';
import { UsageError } from './usage-error.ts';

/** Options every subcommand has. */
export interface CommonOptions extends ServerOptions {
  json?: boolean;
  /** Print sandbox-chosen text with its control characters (default: escaped for the terminal). */
  raw?: boolean;
}

const print = (text: string) => process.stdout.write(text);
/** JSON with C1 and bidi characters as \u escapes (the same value), or exactly JSON.stringify's with `raw`. */
const printJson = (value: unknown, raw: boolean | undefined) => print(`${raw === true ? JSON.stringify(value, null, 2) : terminalSafeJson(value)}\n`);
/** One line of sandbox- or server-chosen text, escaped for the terminal unless `raw`. */
const printLine = (text: string, raw: boolean | undefined) => print(`${terminalSafe(text, { raw: raw === true })}\n`);

/** Runs `fn` with a client of the chosen server, signing when a key is given; SDK errors become one-line messages (exit 1). */
function withClient(opts: ServerOptions, fn: (client: AirlockClient) => Promise<number>): Promise<number> {
  return withServerClient(opts, (client) => fn(client));
}

/**
 * Like {@link withClient}, for a request policy may send to an approver: `fn` gets the approval to
 * run on (`--approval`, or the one `--wait` waited for); a pending approval is printed (exit 3).
 */
function withApprovedClient(opts: ServerOptions & ApprovalFlags, fn: (client: AirlockClient, approvalId: string | undefined) => Promise<number>): Promise<number> {
  approvalFlag(opts);
  return withServerClient(opts, (client) => runWithApproval(client, opts, (approvalId) => fn(client, approvalId)));
}

/** Reads all of stdin, refusing a terminal (nothing was piped). */
async function readStdin(what: string, max?: number): Promise<Uint8Array> {
  if (process.stdin.isTTY === true) throw new UsageError(`${what}: stdin is a terminal; pipe the data in or name a file`);
  const data = await buffer(process.stdin);
  if (max !== undefined && data.length > max) throw new UsageError(`${what}: ${data.length} bytes on stdin; at most ${max} can be forwarded`);
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

/** `sandbox create`: prints the new id (or the sandbox as JSON). */
export async function createAction(raw: RawCreateOptions & ApprovalFlags): Promise<number> {
  const request = createRequestOf(raw);
  await checkAllowEntries(request.allowed_hosts ?? []);
  const loopbackNote = loopbackAllowNote(request.allowed_hosts ?? []);
  if (loopbackNote !== undefined) process.stderr.write(`airlock: ${loopbackNote}\n`);
  return withApprovedClient(raw, async (client, approvalId) => {
    const info = await client.createSandbox(request, { approvalId });
    if (raw.json === true) printJson(info, false);
    else printLine(info.sandbox_id, false);
    return 0;
  });
}

/** `sandbox ls`. */
export function listAction(opts: CommonOptions): Promise<number> {
  return withClient(opts, async (client) => {
    const sandboxes = await client.listSandboxes();
    if (opts.json === true) printJson(sandboxes, opts.raw);
    else print(formatSandboxTable(sandboxes, Date.now(), { raw: opts.raw === true }));
    return 0;
  });
}

/** `sandbox kill ID`: prints the id (or the ended sandbox as JSON). */
export function killAction(id: string, opts: CommonOptions & ApprovalFlags): Promise<number> {
  return withApprovedClient(opts, async (client, approvalId) => {
    // Ending an ended sandbox changes nothing: say so (exit 1, like killing a stopped container), not print its id as if killed now.
    const before = await client.getSandbox(id).catch(() => undefined);
    if (before?.state === 'ended') {
      process.stderr.write(`airlock: sandbox ${terminalSafe(id)} had already ended (${terminalSafe(before.end_reason ?? 'ended')} at ${terminalSafe(before.ended_at ?? '?')})\n`);
      return 1;
    }
    const info = await client.killSandbox(id, { approvalId });
    if (opts.json === true) printJson(info, opts.raw);
    else printLine(info.sandbox_id, opts.raw);
    return 0;
  });
}

/**
 * `sandbox exec ID -- CMD ARGS…`: output streams live (bytes as they come); the exit code is the
 * command's own, 137 when it ended without one, 130 when interrupted here (the command is killed).
 */
export async function execAction(id: string, command: readonly string[], raw: RawExecOptions & ApprovalFlags): Promise<number> {
  if (command.length === 0) throw new UsageError('no command: use `airlock sandbox exec ID [options] -- CMD ARGS…`');
  approvalFlag(raw);
  const options: RunOptions & { background: true } = {
    background: true,
    onStdout: (_text, bytes) => process.stdout.write(bytes),
    onStderr: (_text, bytes) => process.stderr.write(bytes),
  };
  const timeout = parsePositive('--timeout', raw.timeout);
  if (timeout !== undefined) options.timeoutMs = timeout * 1000;
  if (raw.env.length > 0) options.env = parseEnv(raw.env);
  if (raw.cwd !== undefined) options.cwd = checkSandboxPath(raw.cwd);
  // Piped input is forwarded; a terminal never is (the command can't read the caller's tty).
  if (raw.stdin && process.stdin.isTTY !== true) {
    const data = await readStdin('stdin', MAX_STDIN_BYTES);
    if (data.length > 0) options.stdin = data;
  }
  return withApprovedClient(raw, async (client, approvalId) => {
    // The same options on a retry: the request an approver saw, stdin included.
    const handle = await new Sandbox(id, client).commands.run(command, { ...options, approvalId });
    let interrupted = false;
    const interrupt = () => {
      interrupted = true;
      void handle.kill();
    };
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
    let result: CommandResult;
    try {
      result = await handle.wait();
    } catch (err) {
      if (err instanceof CommandExitError) result = err.result;
      else if (err instanceof TimeoutError && err.result !== undefined) result = err.result;
      else throw err;
    } finally {
      process.off('SIGINT', interrupt);
      process.off('SIGTERM', interrupt);
    }
    if (interrupted) {
      process.stderr.write('airlock: interrupted; the command was killed\n');
      return 130;
    }
    if (result.terminationReason !== 'completed') {
      process.stderr.write(`airlock: command ended: ${terminalSafe(`${result.terminationReason}${result.signal === null ? '' : ` (${result.signal})`}`)}\n`);
    }
    return result.exitCode ?? 137;
  });
}

/** `sandbox files ls ID PATH`. */
export function filesListAction(id: string, path: string, opts: CommonOptions & ApprovalFlags): Promise<number> {
  checkSandboxPath(path);
  return withApprovedClient(opts, async (client, approvalId) => {
    const entries = await client.listFiles(id, path, { approvalId });
    if (opts.json === true) printJson(entries, opts.raw);
    else print(formatFileTable(entries, { raw: opts.raw === true }));
    return 0;
  });
}

/** `sandbox files get ID PATH [LOCAL]`: to LOCAL, or to stdout when it is absent or `-`. */
export function filesGetAction(id: string, path: string, local: string | undefined, opts: CommonOptions & ApprovalFlags): Promise<number> {
  checkSandboxPath(path);
  return withApprovedClient(opts, async (client, approvalId) => {
    const data = await client.readFile(id, path, { approvalId });
    if (local === undefined || local === '-') process.stdout.write(data);
    else {
      try {
        await writeFile(local, data);
      } catch (err) {
        throw new UsageError(`LOCAL: cannot write ${local}: ${localFileError(err)}`);
      }
    }
    return 0;
  });
}

/**
 * `sandbox files put ID LOCAL SANDBOX_PATH`, in the order of cp and docker cp (LOCAL `-`: stdin).
 * The order before it (`put ID SANDBOX_PATH [LOCAL]`) is refused with the new one spelled out.
 */
export async function filesPutAction(id: string, local: string, path: string | undefined, opts: CommonOptions & ApprovalFlags & { mode?: string }): Promise<number> {
  const order = 'files put takes ID LOCAL SANDBOX_PATH, in the order of cp (LOCAL - reads stdin)';
  if (path === undefined) throw new UsageError(`${order}: airlock sandbox files put ${id} ${local.startsWith('/') ? `- ${local}` : `${local} /tmp/FILE`}`);
  // Why: the old order silently swapped would write a local file's name as content or read the wrong file.
  if (!path.startsWith('/') && local.startsWith('/')) throw new UsageError(`${order}: airlock sandbox files put ${id} ${path} ${local}`);
  checkSandboxPath(path);
  const mode = parseMode(opts.mode);
  approvalFlag(opts);
  let data: Uint8Array;
  if (local === '-') data = await readStdin('files put');
  else {
    try {
      data = await readFile(local);
    } catch (err) {
      throw new UsageError(`LOCAL: cannot read ${local}: ${localFileError(err)}`);
    }
  }
  return withApprovedClient(opts, async (client, approvalId) => {
    const written = await client.writeFile(id, path, data, mode === undefined ? { approvalId } : { mode, approvalId });
    if (opts.json === true) printJson(written, opts.raw);
    else printLine(`${written.path}  ${written.size} bytes`, opts.raw);
    return 0;
  });
}

/** A local file error without the path Node appends (`…, open './x'`): the message names it once already. */
export function localFileError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/, \w+ '[^']*'(?: -> '[^']*')?$/, '');
}
