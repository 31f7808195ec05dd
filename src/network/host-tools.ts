/**
 * The two host programs that build sandbox networks: `ip` (iproute2) and `nft` (nftables), found
 * in system directories only and run with a fixed environment and a time limit.
 */
import { spawn } from 'node:child_process';
import { ControlError } from '../host/control-error.ts';
import { findExecutable } from '../host/which.ts';

export interface NetTools {
  ip: string;
  nft: string;
}

/** The environment every host network tool runs with (system directories only, no locale surprises). */
export const TOOL_ENV: Readonly<Record<string, string>> = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };
const DEFAULT_TIMEOUT_MS = 30_000;

/** A tool that did not finish within its time limit (and was killed for it). */
export class ToolTimeoutError extends Error {
  readonly timeoutMs: number;
  constructor(command: string, timeoutMs: number) {
    super(`${command}: timed out after ${formatSeconds(timeoutMs)} (killed)`);
    this.name = 'ToolTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** `1.5 s`, `30 s`: how long a limit was, for messages. */
export function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(2))} s`;
}

const PACKAGE: Record<keyof NetTools, string> = { ip: 'iproute2', nft: 'nftables' };

/** Locates one tool in system directories, failing closed with the package to install. */
export function findNetTool(name: keyof NetTools): string {
  const path = findExecutable(name);
  if (path === undefined) throw new ControlError('network', `\`${name}\` not found: install ${PACKAGE[name]}`);
  return path;
}

/** Locates `ip` and `nft`, failing closed with the package to install. */
export function findNetTools(): NetTools {
  return { ip: findNetTool('ip'), nft: findNetTool('nft') };
}

/** Options of {@link runTool}. */
export interface RunToolOptions {
  /** Bytes written to the tool's stdin (closed at once when absent). */
  input?: string;
  /** Time limit; the tool is killed and the call rejects with {@link ToolTimeoutError}. Default 30 s. */
  timeoutMs?: number;
  /** Aborting kills the tool and rejects (shutdown). */
  signal?: AbortSignal;
}

/** Runs a tool; resolves stdout, rejects with stderr in the message (or says it timed out). */
export function runTool(path: string, args: string[], options: RunToolOptions = {}): Promise<string> {
  const { input, timeoutMs = DEFAULT_TIMEOUT_MS, signal } = options;
  const command = `${path} ${args.join(' ')}`;
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) return reject(new Error(`${command}: aborted`));
    const child = spawn(path, args, { env: TOOL_ENV, stdio: ['pipe', 'pipe', 'pipe'] });
    let timedOut = false;
    let aborted = false;
    // Our own timer, not spawn's `timeout`: a kill we caused must say so ("timed out after 30 s"),
    // not look like any other SIGKILL.
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    const onAbort = () => {
      aborted = true;
      child.kill('SIGKILL');
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.on('error', () => undefined);
    child.on('error', (e) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      reject(e);
    });
    child.on('close', (code, exitSignal) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (timedOut) return reject(new ToolTimeoutError(command, timeoutMs));
      if (aborted) return reject(new Error(`${command}: aborted`));
      if (code === 0) return resolve(Buffer.concat(out).toString('utf8'));
      const detail = Buffer.concat(err).toString('utf8').trim().split('\n').slice(0, 4).join(' / ');
      reject(new Error(`${command}: ${detail || `exit ${code ?? exitSignal}`}`));
    });
    child.stdin.end(input ?? '');
  });
}
