/**
 * Runs the real CLI (`bin/airlock.js`) in a child process for tests: exit code, signal and output
 * exactly as a user sees them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root: the child's default working directory. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The CLI's entry point. */
export const CLI_ENTRY = fileURLToPath(new URL('../../bin/airlock.js', import.meta.url));

/** How to start the CLI. */
export interface CliOptions {
  /** Passed as `--config FILE` ahead of the arguments. */
  readonly config?: string;
  /** Added to the environment, after AIRLOCK_URL, AIRLOCK_SOCKET and AIRLOCK_KEY are emptied. */
  readonly env?: Readonly<Record<string, string>>;
  /** Piped to stdin, which is then closed; without it stdin is /dev/null. */
  readonly input?: string | Buffer;
  /** Working directory (default: the repository root). */
  readonly cwd?: string;
  /** SIGTERM after this many milliseconds (default: none; the test's own timeout applies). */
  readonly timeoutMs?: number;
}

/** What a finished CLI left behind. */
export interface CliRun {
  /** Exit code; null when a signal ended it. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout as the bytes written (for binary output). */
  readonly stdoutBytes: Buffer;
}

/** A CLI still running: its process, its end, and the stderr written so far. */
export interface StartedCli {
  readonly child: ChildProcess;
  readonly done: Promise<CliRun>;
  readonly stderrSoFar: () => string;
}

/** Starts `airlock ARGS…`; the caller may watch or signal the child before it ends. */
export function startCli(args: readonly string[], options: CliOptions = {}): StartedCli {
  const config = options.config === undefined ? [] : ['--config', options.config];
  const child = spawn(process.execPath, [CLI_ENTRY, ...config, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    // Why: the developer's own server, socket or key must never reach a test's CLI.
    env: { ...process.env, AIRLOCK_URL: '', AIRLOCK_SOCKET: '', AIRLOCK_KEY: '', ...options.env },
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  child.stderr?.on('data', (c: Buffer) => err.push(c));
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGTERM'), options.timeoutMs);
  const done = new Promise<CliRun>((resolve, reject) => {
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      resolve({ code, signal, stdout: stdoutBytes.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), stdoutBytes });
    });
  });
  if (options.input !== undefined) child.stdin?.end(options.input);
  return { child, done, stderrSoFar: () => Buffer.concat(err).toString('utf8') };
}

/** Runs `airlock ARGS…` to its end. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliRun> {
  return startCli(args, options).done;
}
