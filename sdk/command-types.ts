/** Shapes of commands run through `sandbox.commands`: the options and the result. */
import type { ExecEndReason } from './types.ts';

/** How a command ended, with its collected output. */
export interface CommandResult {
  /** Server-side id of this exec (`x-airlock-exec-id`); empty when the server never answered. */
  execId: string;
  /** Everything the command wrote to stdout, decoded as UTF-8 (invalid bytes become U+FFFD). */
  stdout: string;
  /** Everything the command wrote to stderr, decoded as UTF-8. */
  stderr: string;
  /** Exit status; null when the command was ended by a signal, a limit, or a kill. */
  exitCode: number | null;
  /** Signal name (`SIGKILL`, …) when a signal ended it. */
  signal: string | null;
  /** `completed` unless a limit or a kill ended the command. */
  terminationReason: ExecEndReason;
  /** Wall-clock run time measured by the server, ms (0 when unknown). */
  durationMs: number;
}

/** Receives output as it arrives: decoded text, and the raw bytes for byte-exact consumers. */
export type OutputListener = (text: string, bytes: Uint8Array) => void;

/** Options of `sandbox.commands.run`. */
export interface RunOptions {
  /** Called with each stdout chunk as it arrives. */
  onStdout?: OutputListener | undefined;
  /** Called with each stderr chunk as it arrives. */
  onStderr?: OutputListener | undefined;
  /**
   * Wall-clock limit of the command, ms. Enforced by the server (the command is killed and the run
   * fails with `TimeoutError`); default: the sandbox's `limits.timeout_seconds`.
   */
  timeoutMs?: number | undefined;
  /** Written to the command, then its stdin is closed. Default: an empty stdin. */
  stdin?: string | Uint8Array | undefined;
  /** Environment variables added to the sandbox's own (E2B's name). */
  envs?: Record<string, string> | undefined;
  /** The same as `envs` (give one of them). */
  env?: Record<string, string> | undefined;
  /** Absolute working directory inside the sandbox. */
  cwd?: string | undefined;
  /** Cancels the command (same as `handle.kill()`); the run rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /**
   * The approved approval this very command runs on (see `ApprovalRequiredError`): the same
   * command, stdin, environment, directory and limit as the run that was sent to an approver.
   */
  approvalId?: string | undefined;
}

/** `RunOptions` with `background: true`: `run` returns a handle at once instead of waiting. */
export interface BackgroundRunOptions extends RunOptions {
  background: true;
}

/** `RunOptions` for a foreground run (the default). */
export interface ForegroundRunOptions extends RunOptions {
  background?: false | undefined;
}
