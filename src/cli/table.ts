/** Text tables of the CLI (`sandbox ls`, `sandbox files ls`, `image ls`). */
import { terminalSafe } from './terminal-text.ts';

/** How a table is printed: `raw` leaves control characters in (`--raw`). */
export interface FormatOptions {
  raw?: boolean;
}

/**
 * Aligns rows into columns two spaces apart; the last column is not padded. Cells are escaped
 * for the terminal first (one-line: a newline in a cell would forge rows), unless `raw`.
 */
export function formatTable(rows: readonly (readonly string[])[], options: FormatOptions = {}): string {
  const cells = rows.map((row) => row.map((cell) => terminalSafe(cell, { raw: options.raw === true })));
  const widths = cells[0]?.map((_, c) => Math.max(...cells.map((row) => (row[c] ?? '').length))) ?? [];
  return cells.map((row) => row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c] ?? 0))).join('  ')).join('\n') + '\n';
}
