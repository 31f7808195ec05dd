/**
 * The options every command that talks to a running server takes: `--url`, `--socket`, `--key`.
 * No heavy imports: commands register these at start-up; server-connection.ts resolves them when
 * the command runs.
 */
import type { Command } from 'commander';

/** Help of `--url`. */
export const URL_HELP = 'server URL, or unix:/path for a socket (default: $AIRLOCK_URL, else $AIRLOCK_SOCKET, else /run/airlock/api.sock when present, else http://127.0.0.1:8002)';
/** Help of `--socket`. */
export const SOCKET_HELP = "the controller's unix socket (default: /run/airlock/api.sock when present)";
/** Help of `--key`. */
export const KEY_HELP = 'sign every request with this Ed25519 private key file, from `airlock keys gen` (default: $AIRLOCK_KEY)';

/** Adds `--url`, `--socket` and `--key` to `command`; returns it for chaining. */
export function addServerOptions(command: Command): Command {
  return command.option('--url <url>', URL_HELP).option('--socket <path>', SOCKET_HELP).option('--key <file>', KEY_HELP);
}
