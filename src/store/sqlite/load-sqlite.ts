/**
 * Loads Node's built-in SQLite (node:sqlite). Chosen over better-sqlite3: it ships inside Node, so the
 * root controller loads no third-party native binary (better-sqlite3 bundles prebuilt .node files for
 * eight platforms), and it is updated with Node's security releases. Node 24 still marks it
 * experimental and prints an ExperimentalWarning on first load; that one warning is dropped here so
 * CLI output and server logs stay clean. The whole API the store uses is behind this folder.
 */
import { createRequire } from 'node:module';
import type * as NodeSqlite from 'node:sqlite';

/** The node:sqlite module. */
export type SqliteModule = typeof NodeSqlite;

const SQLITE_WARNING = /^SQLite is an experimental feature/;

/** node:sqlite, without its experimental-feature warning (every other warning is passed on). */
export function loadSqlite(): SqliteModule {
  const original = process.emitWarning;
  // Why synchronous (require, not import): the override is in place only while this call runs, so no
  // other code's warning can pass through it.
  process.emitWarning = function filtered(this: NodeJS.Process, warning: string | Error, ...rest: unknown[]) {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (SQLITE_WARNING.test(text)) return;
    (original as (...args: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    return createRequire(import.meta.url)('node:sqlite') as SqliteModule;
  } finally {
    process.emitWarning = original;
  }
}
