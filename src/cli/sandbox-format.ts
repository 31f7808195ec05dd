/**
 * Output of `airlock sandbox …`: tables for people, and one-line error messages that name the code.
 * Every cell is sandbox- or server-chosen text: formatTable escapes each for the terminal.
 */
import { NetworkError, RateLimitError, type AirlockError } from '../../sdk/errors.ts';
import type { FileEntry, SandboxInfo } from '../../sdk/types.ts';
import { formatTable, type FormatOptions } from './table.ts';

/** Seconds from `now` until `iso`, as `4m59s` / `-12s`; `-` for ended sandboxes. */
function remaining(info: SandboxInfo, now: number): string {
  if (info.state !== 'running') return '-';
  const s = Math.round((Date.parse(info.expires_at) - now) / 1000);
  const abs = Math.abs(s);
  const text = abs >= 3600 ? `${Math.floor(abs / 3600)}h${Math.floor((abs % 3600) / 60)}m` : abs >= 60 ? `${Math.floor(abs / 60)}m${abs % 60}s` : `${abs}s`;
  return s < 0 ? `-${text}` : text;
}

/** `sandbox ls` as a table. */
export function formatSandboxTable(sandboxes: readonly SandboxInfo[], now: number = Date.now(), options: FormatOptions = {}): string {
  const rows = [['ID', 'RUNTIME', 'STATE', 'CREATED', 'EXPIRES IN', 'METADATA']];
  for (const s of sandboxes) {
    const state = s.state === 'ended' && s.end_reason !== null ? `ended (${s.end_reason})` : s.state;
    const metadata = Object.entries(s.metadata).map(([k, v]) => `${k}=${v}`).join(',');
    rows.push([s.sandbox_id, s.runtime, state, s.created_at, remaining(s, now), metadata === '' ? '-' : metadata]);
  }
  return formatTable(rows, options);
}

/** `sandbox files ls` as a table. */
export function formatFileTable(entries: readonly FileEntry[], options: FormatOptions = {}): string {
  const rows = [['TYPE', 'MODE', 'SIZE', 'MODIFIED', 'NAME']];
  for (const e of entries) rows.push([e.type, (e.mode & 0o7777).toString(8).padStart(4, '0'), String(e.size), e.modified_at, e.name]);
  return formatTable(rows, options);
}

/**
 * One line for an SDK error: the server's message, its code, and what to do where that helps.
 * Not escaped here: main.ts escapes every error message it prints, whatever produced it.
 */
export function describeError(err: AirlockError, url: string): string {
  if (err instanceof NetworkError) {
    const cause = (err.cause as { cause?: { code?: string; message?: string } } | undefined)?.cause;
    const why = cause?.code ?? cause?.message;
    return `cannot reach the server at ${url}${why === undefined ? '' : ` (${why})`}; is \`airlock serve\` running? (--url or AIRLOCK_URL pick another)`;
  }
  const retry = err instanceof RateLimitError && err.retryAfter !== undefined ? `; retry in ${err.retryAfter} s` : '';
  return `${err.message} [${err.code}]${retry}`;
}
