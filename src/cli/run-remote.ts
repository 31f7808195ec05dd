/**
 * `airlock run` through a running `airlock serve`, when one is named (`--url`, `--socket`;
 * `AIRLOCK_URL` or `AIRLOCK_SOCKET` without `--config`): the server admits, runs and records it under its own
 * configuration, and the output streams back as the command writes it. The CLI then loads no
 * policy, store or driver of its own, so it starts like a small program.
 */
import { buffer } from 'node:stream/consumers';
import type { AirlockClient } from '../../sdk/client.ts';
import type { ExecuteRequest, ExecuteResultFrame } from '../../sdk/types.ts';
import { MAX_STDIN_BYTES } from '../sandbox/request-rules.ts';
import { runWithApproval } from './approval-retry.ts';
import { checkCodeOptions, codeFromStdin } from './run-code.ts';
import { exitCodeOf, reportEnding } from './run-ending.ts';
import { interruptOnSignals, type RunInterrupt } from './run-interrupt.ts';
import type { RawRunOptions } from './run-options.ts';
import { limitFieldsOf, loopbackAllowNote, specFieldsOf } from './sandbox-options.ts';
import { sandboxPathOption } from './sandbox-spec-options.ts';
import { withServerClient, type ServerOptions } from './server-connection.ts';
import { terminalSafeJson } from './terminal-text.ts';
import { UsageError } from './usage-error.ts';

/** `airlock run`'s options when it may go through a server. */
export type RawRemoteRunOptions = RawRunOptions & ServerOptions;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Whether the run goes through a server: only when one is named, never because a default socket
 * happens to exist. `--url`/`--socket` name one for this run; `AIRLOCK_URL`/`AIRLOCK_SOCKET` do
 * unless `--config` names a configuration to run under here (the explicit option beats the
 * ambient variable).
 */
export function runsThroughServer(raw: ServerOptions, configPath: string | undefined, env: Env = process.env): boolean {
  const named = (value: string | undefined) => value !== undefined && value !== '';
  if (raw.url !== undefined || raw.socket !== undefined) return true;
  return configPath === undefined && (named(env['AIRLOCK_URL']) || named(env['AIRLOCK_SOCKET']));
}

/** The one-shot request for the options; the server checks every range and names each problem. */
export function remoteRunRequestOf(raw: RawRunOptions, command: readonly string[], cwd: string): ExecuteRequest {
  const request: ExecuteRequest = { ...specFieldsOf(raw, cwd), ...limitFieldsOf(raw), workdir: sandboxPathOption('--workdir', raw.workdir) };
  checkCodeOptions(raw, command);
  if (raw.language !== undefined) {
    request.language = raw.language as NonNullable<ExecuteRequest['language']>;
    if (raw.code !== undefined) request.code = raw.code;
  } else if (command.length > 0) {
    request.command = [...command];
  }
  // No command: the server runs the image's default command, or refuses naming why.
  return request;
}

/** Piped input, whole (a request carries it up front); a terminal is never read. */
async function withInput(request: ExecuteRequest): Promise<ExecuteRequest> {
  if (request.language !== undefined && request.code === undefined) return { ...request, code: await codeFromStdin() };
  if (request.language !== undefined || process.stdin.isTTY) return request;
  const input = await buffer(process.stdin);
  if (input.length > MAX_STDIN_BYTES) {
    throw new UsageError(`stdin: ${input.length} bytes piped; a run through a server takes at most ${MAX_STDIN_BYTES} (without --url/--socket the run streams its input)`);
  }
  return input.length === 0 ? request : { ...request, stdin: input.toString('base64'), stdin_encoding: 'base64' };
}

/** Runs the command through the named server; returns the exit code for the CLI. */
export async function runThroughServer(command: readonly string[], raw: RawRemoteRunOptions): Promise<number> {
  const planned = remoteRunRequestOf(raw, command, process.cwd());
  const loopbackNote = loopbackAllowNote(planned.allowed_hosts ?? []);
  if (loopbackNote !== undefined) process.stderr.write(`airlock: ${loopbackNote}\n`);
  const request = await withInput(planned);
  // From here on a signal cancels the run on the server, and the CLI exits once it has ended there.
  const interrupt = interruptOnSignals();
  try {
    return await withServerClient(raw, (client) =>
      runWithApproval(client, { approval: raw.approval, json: raw.json }, async (approvalId) => {
        const code = await streamed(client, request, approvalId, interrupt, raw.json);
        return interrupt.exitCode() ?? code;
      }),
    );
  } catch (err) {
    // Stopped before the server answered: the closed connection cancelled the run there.
    const stopped = interrupt.exitCode();
    if (stopped !== undefined) return stopped;
    throw err;
  } finally {
    interrupt.dispose();
  }
}

/**
 * The command's output as it comes (bytes passed through, like ssh or docker run), then how it
 * ended; with `json`, only the execution result as the API answers it. Streamed either way, so
 * that a signal cancels the run by its id (known from the first byte) and waits for its ending.
 */
async function streamed(client: AirlockClient, request: ExecuteRequest, approvalId: string | undefined, interrupt: RunInterrupt, json: boolean): Promise<number> {
  // Closing the connection cancels the run on the server: done for a signal before the run has
  // an id, and if cancelling it by id fails.
  const hangUp = new AbortController();
  const early = () => hangUp.abort();
  interrupt.signal.addEventListener('abort', early, { once: true });
  if (interrupt.signal.aborted) early();
  const stream = await client.executeStream(request, { approvalId, signal: hangUp.signal }).finally(() => interrupt.signal.removeEventListener('abort', early));
  // Why cancel, not hang up: the CLI waits until the server has ended the run and torn its sandbox down.
  const cancel = () => void client.cancelExecution(stream.executionId).catch(() => hangUp.abort());
  interrupt.signal.addEventListener('abort', cancel, { once: true });
  let result: ExecuteResultFrame | undefined;
  try {
    for await (const frame of stream.frames) {
      if (frame.type === 'result') result = frame;
      else if (!json) (frame.type === 'stdout' ? process.stdout : process.stderr).write(Buffer.from(frame.data, frame.encoding));
    }
  } catch (err) {
    throw stream.fail(err);
  } finally {
    interrupt.signal.removeEventListener('abort', cancel);
  }
  if (result === undefined) throw new Error('the server ended the run without its result');
  if (json) {
    const { type: _frame, ...answer } = result;
    process.stdout.write(`${terminalSafeJson(answer)}\n`);
  } else {
    reportEnding(result);
  }
  return exitCodeOf(result);
}
