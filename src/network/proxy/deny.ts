/**
 * How the proxy says no: `403 Forbidden` with `X-Airlock-Deny-Reason` and a one-line body naming
 * host, port and reason; `502` with `upstream_unreachable` when an allowed upstream cannot be reached,
 * or `upstream_certificate_invalid` when its certificate fails verification.
 */
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export const DENY_REASON_HEADER = 'X-Airlock-Deny-Reason';
const LINGER_MS = 2000;

/** Attacker-supplied text made safe for a header-free body line and for logs. */
export function printable(text: string, max = 256): string {
  // Why: hosts and paths come from the sandbox; never echo control characters or unbounded text.
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}...` : clean;
}

function body(host: string, port: number, reason: string): string {
  // A sandbox asking for the host's loopback by address is told the name that reaches it.
  const hint = reason === 'loopback_address' ? ` (a service on the host's loopback is reached as host.airlock.internal:${port}, allowlisted by that name)` : '';
  return `airlock: egress to ${printable(host)}:${port} refused: ${reason}${hint}\n`;
}

function statusFor(reason: string): [number, string] {
  return reason === 'upstream_unreachable' || reason === 'upstream_certificate_invalid' ? [502, 'Bad Gateway'] : [403, 'Forbidden'];
}

/** Answers a plain HTTP request with the refusal. */
export function denyResponse(res: ServerResponse, host: string, port: number, reason: string, closeConnection: boolean): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = body(host, port, reason);
  const [status] = statusFor(reason);
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    [DENY_REASON_HEADER]: reason,
    ...(closeConnection ? { Connection: 'close' } : {}),
  });
  res.end(text);
}

/** Writes the refusal as a raw response on a socket taken over for CONNECT, then closes it. */
export function denySocket(socket: Duplex, host: string, port: number, reason: string): void {
  if (socket.destroyed) return;
  const text = body(host, port, reason);
  const [status, phrase] = statusFor(reason);
  socket.end(
    `HTTP/1.1 ${status} ${phrase}\r\n${DENY_REASON_HEADER}: ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
  socket.resume(); // Why: drain what the client still sends so the answer is not lost to a reset.
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}
