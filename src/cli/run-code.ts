/**
 * `airlock run --language` and `--code`: which combinations make sense, and the code read from
 * stdin. One place for both the in-process run and the run through a server.
 */
import { text } from 'node:stream/consumers';
import type { RawRunOptions } from './run-options.ts';
import { UsageError } from './usage-error.ts';

/** Code only with a language; a language runs code, never a command. */
export function checkCodeOptions(raw: Pick<RawRunOptions, 'language' | 'code'>, command: readonly string[]): void {
  if (raw.language === undefined && raw.code !== undefined) throw new UsageError('--code: requires --language');
  if (raw.language !== undefined && command.length > 0) throw new UsageError('--language: give the code with --code or on stdin, not as a command');
}

/** The code of `--language` without `--code`: piped on stdin, never read from a terminal. */
export async function codeFromStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError('--language: no code given: pass --code or pipe the code on stdin');
  return text(process.stdin);
}
