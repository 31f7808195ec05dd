/**
 * Structured logs (pino, one JSON object a line). Two redaction layers:
 * - paths (`redact`): fields that may carry credentials are censored wherever they appear;
 * - values (`SecretRedactor`): any registered secret value is replaced in every serialized line,
 *   whatever field it ended up in (an error message, a captured command line, a URL).
 * Each logger owns its redactor: there is no process-wide secret list.
 */
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

/** Text written in place of a redacted value. */
export const REDACTED = '[REDACTED]';

/** Field paths censored in every log line. */
export const DEFAULT_REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'req.headers["x-api-key"]',
  // RFC 9421 signature fields: a captured signature is nothing to replay (nonces), but it is never logged.
  'req.headers.signature',
  'req.headers["signature-input"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.secret',
  '*.secrets',
  '*.token',
  '*.api_key',
  '*.private_key',
  // Request environments may carry credentials the caller meant only for the sandbox.
  'environment',
  '*.environment',
  'env',
  '*.env',
];

/** The shortest value `registerSecret` accepts. */
export const MIN_SECRET_LENGTH = 4;

/** Replaces registered secret values in serialized log lines. */
export class SecretRedactor {
  readonly #needles = new Set<string>();
  #sorted: string[] = [];

  /**
   * Registers a value to redact from every later log line (also its JSON-escaped form).
   * Why the minimum length: redacting a 1–3 character string would mangle every line and hide nothing.
   */
  registerSecret(value: string): void {
    if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH) {
      throw new Error(`a secret to redact must be a string of at least ${MIN_SECRET_LENGTH} characters`);
    }
    this.#needles.add(value);
    this.#needles.add(JSON.stringify(value).slice(1, -1));
    // Longest first, so a secret that contains another is replaced whole.
    this.#sorted = [...this.#needles].sort((a, b) => b.length - a.length);
  }

  /** Number of registered needles (each secret counts once or twice). */
  get size(): number {
    return this.#needles.size;
  }

  /** `line` with every registered secret replaced by `[REDACTED]`. */
  redact(line: string): string {
    let out = line;
    for (const needle of this.#sorted) {
      if (out.includes(needle)) out = out.split(needle).join(REDACTED);
    }
    return out;
  }
}

export interface CreateLoggerOptions {
  /** pino level; default `info`. */
  level?: string;
  /** Where lines go; default stdout. */
  destination?: DestinationStream;
  /** Extra field paths to censor, added to `DEFAULT_REDACT_PATHS`. */
  redactPaths?: string[];
  /** Base fields of every line; default `{ service: 'airlock' }`. */
  base?: Record<string, unknown>;
}

/** A logger together with the value redactor wired into it. */
export interface AirlockLogger {
  logger: Logger;
  secrets: SecretRedactor;
  /** Shorthand for `secrets.registerSecret`. */
  registerSecret(value: string): void;
}

/** Creates a pino logger with path redaction and a value-redaction hook. */
export function createLogger(options: CreateLoggerOptions = {}): AirlockLogger {
  const secrets = new SecretRedactor();
  const pinoOptions: LoggerOptions = {
    level: options.level ?? 'info',
    base: options.base ?? { service: 'airlock' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...DEFAULT_REDACT_PATHS, ...(options.redactPaths ?? [])], censor: REDACTED },
    hooks: {
      // Runs on the final serialized line, so a secret is caught wherever it was embedded.
      streamWrite: (line: string) => (secrets.size === 0 ? line : secrets.redact(line)),
    },
  };
  const logger = options.destination === undefined ? pino(pinoOptions) : pino(pinoOptions, options.destination);
  return { logger, secrets, registerSecret: (value) => secrets.registerSecret(value) };
}
