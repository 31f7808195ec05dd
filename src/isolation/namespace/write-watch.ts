/**
 * The namespace side of the agent's --watch-writes supervisor: the argument that starts it and the
 * reader of its finding lines (`p PATTERN PID SYSCALL PATH`, PATH with \xNN escapes).
 */
import type { Readable } from 'node:stream';
import type { PathProbe } from '../driver.ts';

/** How the agent's refusal to start the watcher begins (exit 126): the sandbox never ran. */
export const WATCH_REFUSAL = 'airlock-agent: watch-writes: ';

/** Longest line the supervisor writes (4 escaped bytes per path byte, PATH_MAX, and the head). */
const MAX_LINE = 4 * 4096 + 128;

/** The agent's argument: the child-side fd, and whether the watched command is the agent itself. */
export function watchWritesArg(fd: number, commandIsAgent: boolean): string {
  return commandIsAgent ? `${fd}:agent` : String(fd);
}

/** Parses one supervisor line; undefined for one that doesn't follow the format. */
export function parseProbeLine(line: string): PathProbe | undefined {
  const m = /^p ([a-z_]{1,64}) (\d{1,10}) ([a-z0-9_]{1,32}) (\S{1,16400})$/.exec(line);
  if (m === null) return undefined;
  const [, pattern, pid, syscall, escaped] = m as unknown as [string, string, string, string, string];
  return { pattern, pid: Number(pid), syscall, path: unescapePath(escaped) };
}

/** Undoes the supervisor's \xNN escapes; the bytes are read as UTF-8 (invalid sequences become U+FFFD). */
function unescapePath(escaped: string): string {
  if (!escaped.includes('\\x')) return escaped;
  const bytes: number[] = [];
  for (let i = 0; i < escaped.length; i++) {
    const hex = escaped[i] === '\\' && escaped[i + 1] === 'x' ? escaped.slice(i + 2, i + 4) : '';
    if (/^[0-9a-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 3;
    } else {
      bytes.push(escaped.charCodeAt(i) & 0xff);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * Reads the supervisor's lines from `stream` and reports each finding. Every line is handled
 * before the stream ends, so once the sandbox's exit is known (the child's `close` waits for this
 * stream) every finding has been reported. A malformed or overlong line is dropped.
 */
export function readProbes(stream: Readable, onProbe: (probe: PathProbe) => void): void {
  let pending = '';
  stream.setEncoding('latin1');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    let start = 0;
    let nl: number;
    while ((nl = pending.indexOf('\n', start)) >= 0) {
      const probe = parseProbeLine(pending.slice(start, nl));
      if (probe !== undefined) onProbe(probe);
      start = nl + 1;
    }
    pending = pending.slice(start);
    // Why drop: the supervisor never writes a longer line; anything else is not its.
    if (pending.length > MAX_LINE) pending = '';
  });
}
