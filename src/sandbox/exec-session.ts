/**
 * One command in a persistent sandbox: the agent's exec plus the controller-side rules: per-exec
 * timeout, output cap, kill, and a termination reason for each way it can end.
 */
import { randomUUID } from 'node:crypto';
import type { AgentClient } from '../agent/client.ts';
import type { ExecEndReason, ExecResult, ExecSession } from './service-types.ts';
import { Redactor } from '../secrets/redactor.ts';

export interface ExecRequest {
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  stdin: boolean;
  timeoutMs: number;
  /** Cap on stdout+stderr bytes for this command. */
  outputBytes: number;
  /** Whether the sandbox has ended (then a killed command reports `sandbox_ended`). */
  ended: () => boolean;
  /** The sandbox's secrets' redactor: output is redacted before it is counted or delivered. */
  redactor?: Redactor;
}

/** Starts `request` through the agent and returns its session. */
export function startExec(agent: AgentClient, request: ExecRequest): ExecSession {
  const started = performance.now();
  const handle = agent.exec({ argv: request.argv, env: request.env, cwd: request.cwd, stdin: request.stdin });
  const stdoutListeners: ((chunk: Buffer) => void)[] = [];
  const stderrListeners: ((chunk: Buffer) => void)[] = [];
  let reason: ExecEndReason | undefined;
  let outputSeen = 0;
  const stop = (why: ExecEndReason) => {
    reason ??= why;
    handle.kill('SIGKILL');
  };
  const deliver = (listeners: ((chunk: Buffer) => void)[]) => (chunk: Buffer) => {
    if (reason === 'output_limit') return;
    const room = request.outputBytes - outputSeen;
    const kept = chunk.length <= room ? chunk : chunk.subarray(0, room);
    outputSeen += kept.length;
    if (kept.length > 0) for (const l of listeners) l(kept);
    // Past the cap the command is killed: output can't exhaust the controller or the client.
    if (chunk.length > room) stop('output_limit');
  };
  const redactor = request.redactor ?? new Redactor([]);
  const redacted = { stdout: redactor.stream(), stderr: redactor.stream() };
  const stdout = deliver(stdoutListeners);
  const stderr = deliver(stderrListeners);
  handle.onStdout((chunk) => stdout(redacted.stdout.push(chunk)));
  handle.onStderr((chunk) => stderr(redacted.stderr.push(chunk)));
  // What each stream held back (a possible start of a value) goes out, redacted, before the result.
  const flush = () => {
    stdout(redacted.stdout.end());
    stderr(redacted.stderr.end());
  };
  const timer = setTimeout(() => stop('timeout'), request.timeoutMs);
  const result: Promise<ExecResult> = handle.exit.then(
    (exit: { code: number | null; signal: string | null }) => {
      clearTimeout(timer);
      flush();
      const ended = reason ?? (request.ended() ? 'sandbox_ended' : 'completed');
      return {
        exit_code: exit.code,
        signal: exit.signal,
        termination_reason: ended,
        duration_ms: Math.round((performance.now() - started) * 100) / 100,
      };
    },
    () => {
      clearTimeout(timer);
      flush();
      return { exit_code: null, signal: null, termination_reason: 'sandbox_ended' as const, duration_ms: Math.round(performance.now() - started) };
    },
  );
  return {
    execId: randomUUID(),
    onStdout: (l) => void stdoutListeners.push(l),
    onStderr: (l) => void stderrListeners.push(l),
    // Stdin errors surface through `result` (the command ends); they must not go unhandled here.
    writeStdin: (data) => void handle.writeStdin(data).catch(() => undefined),
    closeStdin: () => void handle.closeStdin().catch(() => undefined),
    kill: () => stop('killed'),
    result,
  };
}
