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

/** Which server a command talked to, how it was chosen, and the key it signed with, for messages. */
export interface ServerContext {
  /** A URL, or `unix socket PATH`. */
  readonly target: string;
  /** What chose it: `--url`, `AIRLOCK_SOCKET`, the default… */
  readonly source?: string | undefined;
  readonly keyId?: string | undefined;
  /** `--key` or `AIRLOCK_KEY`. */
  readonly keySource?: string | undefined;
}

const PICK_ANOTHER = '--url, --socket, AIRLOCK_URL or AIRLOCK_SOCKET pick another';

/** What to do about a 401: sign, or sign with a key the server knows. */
function authenticationHint(server: ServerContext): string {
  if (server.keyId === undefined) {
    return `; the server at ${server.target} wants signed requests: pass --key FILE or set AIRLOCK_KEY (a key registered with \`airlock principals add\`), or use the local socket (--socket, default /run/airlock/api.sock)`;
  }
  return `; the server at ${server.target} refused key ${server.keyId} (from ${server.keySource ?? '--key'}): is it registered with \`airlock principals add\` and not revoked?`;
}

/**
 * One line for an SDK error: the server's message, its code, and what to do where that helps
 * (which server was tried and why, how to authenticate). Never quotes a signature or a key.
 * Not escaped here: main.ts escapes every error message it prints, whatever produced it.
 */
export function describeError(err: AirlockError, server: string | ServerContext): string {
  const context: ServerContext = typeof server === 'string' ? { target: server } : server;
  if (err instanceof NetworkError) {
    const cause = (err.cause as { cause?: { code?: string; message?: string } } | undefined)?.cause;
    const why = cause?.code ?? cause?.message;
    const chosen = context.source === undefined ? '' : `chosen by ${context.source}; `;
    const access = why === 'EACCES' ? ' (may your user use the socket? it belongs to the airlock group)' : '';
    return `cannot reach the server at ${context.target}${why === undefined ? '' : ` (${why})`}; is \`airlock serve\` running?${access} (${chosen}${PICK_ANOTHER})`;
  }
  const retry = err instanceof RateLimitError && err.retryAfter !== undefined ? `; retry in ${err.retryAfter} s` : '';
  const auth = err.status === 401 ? authenticationHint(context) : '';
  return `${err.message} [${err.code}]${retry}${auth}`;
}
