/**
 * The one redactor every path out of a sandbox goes through (captured output, streamed exec
 * output, files read back, error messages, what its egress proxy reports): each granted secret's
 * value is replaced by `[REDACTED:NAME]` — the raw bytes, their hex (either case) and their base64
 * (standard and URL-safe, at each of the three byte alignments the value can have inside a longer
 * encoding). An encoded form is found across line breaks too (`base64` wraps at 76 columns).
 *
 * Streams are redacted across chunk boundaries: a stream holds back only a tail that could still
 * become a value (a proper prefix of some form of it) and releases it once the next chunk shows
 * it doesn't, or at `end()`. Output that can't begin a value (a prompt, most text) goes out at once.
 *
 * Not a defence against code that means to leak a value (it can reverse or re-encode it); the
 * defence there is that a secret is granted only where policy says. Redaction stops the honest
 * leaks: a tool that prints its configuration, a stack trace, a debug dump.
 */

/** What the redactor needs of a secret: its name (for the marker) and its bytes (a SecretValue is one). */
export interface RedactedSecret {
  readonly name: string;
  bytes(): Buffer;
}

/** The marker a value is replaced with. */
export function redactionMarker(name: string): string {
  return `[REDACTED:${name}]`;
}

/** Shortest encoded form still redacted on its own (shorter cores would match ordinary text). */
const MIN_PATTERN = 8;
/** Longest encoded form matched across line breaks (longer ones are matched exactly: a pattern's regex grows with it). */
const MAX_WRAPPED_PATTERN = 16 * 1024;
const LINE_BREAK = /[\r\n]/g;

interface Pattern {
  bytes: Buffer;
  marker: Buffer;
  /** For an encoded form: the same characters with a line break (`\n` or `\r\n`) allowed between any two. */
  wrapped?: RegExp;
}

interface Match {
  start: number;
  length: number;
  marker: Buffer;
}

/** One stream being redacted: push chunks in order, then end() once. */
export interface RedactingStream {
  /** The redacted bytes that can be released now (possibly empty). */
  push(chunk: Buffer): Buffer;
  /** The bytes held back, redacted; the stream is done. */
  end(): Buffer;
}

/** The encoded forms of `value` that are redacted. */
export function encodedForms(value: Buffer): Buffer[] {
  const forms = new Set<string>();
  const hex = value.toString('hex');
  forms.add(hex);
  forms.add(hex.toUpperCase());
  for (const variant of ['base64', 'base64url'] as const) {
    // The value encoded on its own, padding included.
    forms.add(value.toString(variant));
    // The value inside a longer encoding, starting at byte offset k within a 3-byte group: the
    // characters that depend only on the value (the first and last groups also hold other bytes).
    for (let k = 0; k < 3; k++) {
      const encoded = Buffer.concat([Buffer.alloc(k), value]).toString(variant);
      const core = encoded.slice(k === 0 ? 0 : 4, Math.floor((k + value.length) / 3) * 4);
      if (core.length >= MIN_PATTERN) forms.add(core);
    }
  }
  return [...forms].map((f) => Buffer.from(f, 'latin1'));
}

function wrappedRegex(form: Buffer): RegExp {
  const chars = [...form.toString('latin1')].map((c) => c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'));
  return new RegExp(chars.join('(?:\\r?\\n)?'), 'g');
}

/** Redacts the values of a sandbox's secrets. Without secrets it passes everything through untouched. */
export class Redactor {
  readonly #patterns: Pattern[];
  /** The most a stream ever holds back (a wrapped form can be up to three times its length). */
  readonly #hold: number;
  /** Bytes some pattern starts with: only there can a held-back tail begin. */
  readonly #firstBytes: Set<number>;

  constructor(secrets: readonly RedactedSecret[]) {
    const patterns: Pattern[] = [];
    for (const secret of secrets) {
      const marker = Buffer.from(redactionMarker(secret.name));
      const raw = secret.bytes();
      patterns.push({ bytes: raw, marker });
      for (const form of encodedForms(raw)) {
        patterns.push(form.length <= MAX_WRAPPED_PATTERN ? { bytes: form, marker, wrapped: wrappedRegex(form) } : { bytes: form, marker });
      }
    }
    // Longest first: at one position the longest form wins (the padded encoding over its core).
    this.#patterns = patterns.sort((a, b) => b.bytes.length - a.bytes.length);
    this.#hold = Math.max(0, ...patterns.map((p) => (p.wrapped === undefined ? p.bytes.length - 1 : 3 * p.bytes.length)));
    this.#firstBytes = new Set(patterns.map((p) => p.bytes[0] as number));
  }

  /** Whether there is anything to redact. */
  get active(): boolean {
    return this.#patterns.length > 0;
  }

  /** A new stream (one per output stream: stdout and stderr are redacted separately). */
  stream(): RedactingStream {
    let held: Buffer = Buffer.alloc(0);
    return {
      push: (chunk) => {
        if (!this.active) return chunk;
        const buf = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
        const { out, rest } = this.#scan(buf, false);
        held = rest;
        return out;
      },
      end: () => {
        const { out } = this.#scan(held, true);
        held = Buffer.alloc(0);
        return out;
      },
    };
  }

  /** Redacts a whole buffer. */
  buffer(data: Buffer): Buffer {
    if (!this.active) return data;
    return this.#scan(data, true).out;
  }

  /** Redacts text (an error message, a file name). */
  text(text: string): string {
    if (!this.active) return text;
    return this.buffer(Buffer.from(text, 'utf8')).toString('utf8');
  }

  /**
   * Replaces every complete match; unless `final`, the tail from the first position where a
   * pattern could still begin (or a longer one still complete a match) is returned as `rest`.
   */
  #scan(buf: Buffer, final: boolean): { out: Buffer; rest: Buffer } {
    const text = buf.toString('latin1');
    const parts: Buffer[] = [];
    let pos = 0;
    let cut = final ? buf.length : this.#partialFrom(buf, 0);
    for (;;) {
      const match = this.#next(buf, text, pos);
      // A match from `cut` on waits: a longer form may still match there (the padded encoding over its core).
      if (match === undefined || match.start >= cut) break;
      parts.push(buf.subarray(pos, match.start), match.marker);
      pos = match.start + match.length;
      if (!final && pos > cut) cut = this.#partialFrom(buf, pos);
    }
    cut = Math.max(cut, pos);
    parts.push(buf.subarray(pos, cut));
    return { out: Buffer.concat(parts), rest: Buffer.from(buf.subarray(cut)) };
  }

  /** The leftmost complete match at or after `from` (the longest at that position). */
  #next(buf: Buffer, text: string, from: number): Match | undefined {
    let best: Match | undefined;
    for (const pattern of this.#patterns) {
      let match: Match | undefined;
      if (pattern.wrapped === undefined) {
        const start = buf.indexOf(pattern.bytes, from);
        if (start !== -1) match = { start, length: pattern.bytes.length, marker: pattern.marker };
      } else {
        pattern.wrapped.lastIndex = from;
        const found = pattern.wrapped.exec(text);
        if (found !== null) match = { start: found.index, length: found[0].length, marker: pattern.marker };
      }
      if (match !== undefined && (best === undefined || match.start < best.start || (match.start === best.start && match.length > best.length))) best = match;
    }
    return best;
  }

  /** The first position at or after `from` whose rest of `buf` is a proper prefix of a pattern (else buf.length). */
  #partialFrom(buf: Buffer, from: number): number {
    // Tails that start after the last line break hold none: they are compared as they are.
    const lastBreak = Math.max(buf.lastIndexOf(0x0a), buf.lastIndexOf(0x0d));
    for (let p = Math.max(from, buf.length - this.#hold); p < buf.length; p++) {
      if (!this.#firstBytes.has(buf[p] as number)) continue;
      const tail = buf.subarray(p);
      if (this.#patterns.some((pattern) => isPrefixOf(pattern, tail, p < lastBreak))) return p;
    }
    return buf.length;
  }
}

/** Whether `tail` could still grow into `pattern` (line breaks ignored for a wrapped form). */
function isPrefixOf(pattern: Pattern, tail: Buffer, hasBreak: boolean): boolean {
  const bytes = pattern.wrapped === undefined || !hasBreak ? tail : Buffer.from(tail.toString('latin1').replace(LINE_BREAK, ''), 'latin1');
  return pattern.bytes.length > bytes.length && pattern.bytes.subarray(0, bytes.length).equals(bytes);
}
