/**
 * A `node --test` reporter for the in-guest suite: one JSON line per finished test (not suites),
 * with its file, name path, outcome, skip/todo reason and failure message. The host reads the lines
 * back from the job folder, so a failure is shown by name and message, not as a console tail.
 */
import { relative, resolve } from 'node:path';

/** One finished test, as a line of the reporter's output. */
export interface GuestTestLine {
  file: string;
  /** The names from the outermost describe down to the test, joined by " > ". */
  name: string;
  outcome: 'pass' | 'fail' | 'skip' | 'todo';
  /** The skip or todo reason, or the failure's message (with its cause's). */
  detail: string;
  durationMs: number;
}

interface TestEventData {
  name: string;
  nesting: number;
  file?: string;
  skip?: string | boolean;
  todo?: string | boolean;
  message?: string;
  details?: { duration_ms?: number; type?: string; error?: unknown };
}

/** How much of a file's stderr is kept for the report of its process dying. */
const STDERR_KEPT = 3000;

/** A test file's path relative to the checkout, however the runner named it. */
function fileOf(path: string): string {
  return relative(process.cwd(), resolve(path));
}

function isSet(flag: string | boolean | undefined): boolean {
  return flag !== undefined && flag !== false;
}

/** How a test file's process ended (Node puts its exit code and signal on the failure). */
function howItEnded(error: unknown): string {
  const { exitCode, signal } = (error ?? {}) as { exitCode?: number | null; signal?: string | null };
  return exitCode === undefined && signal === undefined ? '' : ` (exit code ${exitCode ?? 'none'}, signal ${signal ?? 'none'})`;
}

/** The message of a failure, with the assertion (or other cause) Node wraps it around. */
function failureMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause;
  const inner = cause instanceof Error ? `${cause.name}: ${cause.message}` : cause === undefined ? '' : String(cause);
  return inner === '' ? error.message : inner;
}

/** The reporter: `node --test --test-reporter=./test/hosts/guest-reporter.ts --test-reporter-destination=FILE`. */
export default async function* guestReporter(source: AsyncIterable<{ type: string; data: TestEventData }>): AsyncGenerator<string> {
  // Names of the enclosing suites, by nesting level, for the test that ends next.
  const path: string[] = [];
  // The last of each file's stderr: a file whose process died reports no more than "test failed".
  const stderr = new Map<string, string>();
  // The file of the outermost test or suite now running: a test that a helper module makes inside
  // a test file's describe names the helper as its file, its outermost suite the test file.
  let outermost = '';
  for await (const event of source) {
    if (event.type === 'test:stderr' && event.data.file !== undefined) {
      const file = fileOf(event.data.file);
      stderr.set(file, `${stderr.get(file) ?? ''}${event.data.message ?? ''}`.slice(-STDERR_KEPT));
      continue;
    }
    if (event.type === 'test:start') {
      if (event.data.nesting === 0 && event.data.file !== undefined) outermost = fileOf(event.data.file);
      path.length = event.data.nesting;
      path.push(event.data.name);
      continue;
    }
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const data = event.data;
    path.length = data.nesting;
    // A describe block's own pass, or its fail because a test in it failed, repeats its tests'.
    if (data.details?.type === 'suite' && (event.type === 'test:pass' || (data.details.error as { failureType?: string } | undefined)?.failureType === 'subtestsFailed')) continue;
    // A todo test that fails does not fail the run: it is reported as todo either way.
    const outcome = isSet(data.todo) ? 'todo' : event.type === 'test:fail' ? 'fail' : isSet(data.skip) ? 'skip' : 'pass';
    const reason = outcome === 'skip' ? data.skip : data.todo;
    const file = data.nesting > 0 && outermost !== '' ? outermost : data.file === undefined ? '' : fileOf(data.file);
    // A file's own entry (named after the file) fails when its process died or exited non-zero.
    const died = event.type === 'test:fail' && data.nesting === 0 && file !== '' && fileOf(data.name) === file;
    const line: GuestTestLine = {
      file,
      name: [...path, data.name].join(' > '),
      outcome,
      detail: event.type === 'test:fail' ? failureMessage(data.details?.error) + (died ? `${howItEnded(data.details?.error)}\n${stderr.get(file) ?? ''}` : '') : typeof reason === 'string' ? reason : '',
      durationMs: Math.round(data.details?.duration_ms ?? 0),
    };
    yield `${JSON.stringify(line)}\n`;
  }
}
