/**
 * Errors of the in-sandbox agent as the host sees them. Each carries the errno name the agent
 * reported (ENOENT, EACCES, ELOOP, EISDIR, …) so callers can map it onto 4xx answers.
 */
import { constants } from 'node:os';

/** errno number -> name; the first name wins where two share a number (EAGAIN/EWOULDBLOCK). */
const ERRNO_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(constants.errno)
    .reverse()
    .map(([name, value]) => [value, name] as const),
);

/** The name of a Linux errno number (`E<n>` when Node doesn't know it). */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

/** Something the agent refused or failed to do. */
export class AgentError extends Error {
  /** errno name (`ENOENT`, `EAGAIN`, …) or `EPROTO` / `ECONNRESET` for channel failures. */
  readonly code: string;
  /** The errno number the agent reported, when it reported one. */
  readonly errno: number | undefined;
  constructor(code: string, message: string, options?: { errno?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AgentError';
    this.code = code;
    this.errno = options?.errno;
  }
}

/** A file operation inside the sandbox failed; `code` says why, `path` says on what. */
export class AgentFileError extends AgentError {
  /** The path as the request named it (inside the sandbox). */
  readonly path: string;
  constructor(code: string, path: string, message: string, options?: { errno?: number }) {
    super(code, message, options);
    this.name = 'AgentFileError';
    this.path = path;
  }
}

/** The channel carried something that isn't the protocol: the agent can no longer be trusted. */
export class AgentProtocolError extends AgentError {
  constructor(message: string) {
    super('EPROTO', `agent protocol error: ${message}`);
    this.name = 'AgentProtocolError';
  }
}

/** The agent's channel ended (the agent exited, the sandbox stopped, or close() was called). */
export class AgentClosedError extends AgentError {
  constructor(message = 'the sandbox agent is gone') {
    super('ECONNRESET', message);
    this.name = 'AgentClosedError';
  }
}
