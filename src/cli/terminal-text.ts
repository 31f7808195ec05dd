/**
 * The one place where text the CLI formats itself is made safe for the operator's terminal. Much
 * of what it prints is chosen by sandboxes or by whoever created them (metadata, file names,
 * error messages quoting them): printed raw, an escape sequence could write the clipboard
 * (OSC 52), retitle or clear the window, move the cursor over earlier lines, or reorder what is
 * shown with bidi overrides. Every such character is shown as a visible escape instead.
 *
 * Not escaped: the output of a command the operator runs (`run`, `sandbox exec`, `files get`),
 * which is passed through as bytes like ssh, docker exec and kubectl exec do: it is the data the
 * operator asked for, and escaping it would break colours, progress bars, editors and binary pipes.
 * kubectl drew the same line for CVE-2021-25743 (object fields escaped, logs and exec untouched).
 */

// Why: C0 and DEL start or end control sequences; C1 (U+0080-U+009F) are 8-bit CSI/OSC/DCS on many terminals.
const CONTROL = '\\u0000-\\u001f\\u007f-\\u009f';
// Why: these reorder (bidi embeddings, overrides, isolates, marks), hide (zero-width space, word joiner,
// BOM, tags) or break lines (U+2028/2029) in what is displayed, so the text on screen is not the text the
// server holds. The joiners U+200C/U+200D stay: emoji and several scripts need them, and they move nothing.
const DISPLAY_REWRITING = '\\u00ad\\u061c\\u180e\\u200b\\u200e\\u200f\\u2028-\\u202e\\u2060-\\u2069\\ufeff\\u{e0000}-\\u{e007f}';

const UNSAFE = new RegExp(`[${CONTROL}${DISPLAY_REWRITING}]`, 'gu');
const UNSAFE_EXCEPT_LAYOUT = new RegExp(`(?![\\n\\t])[${CONTROL}${DISPLAY_REWRITING}]`, 'gu');

/** Options of {@link terminalSafe}. */
export interface TerminalSafeOptions {
  /** Keep `\n` and `\t` (multi-line messages); table cells and one-line fields escape them too. */
  keepLayout?: boolean;
  /** Print the text unchanged (`--raw`): the operator takes responsibility for what it does. */
  raw?: boolean;
}

/**
 * `text` with every control character (C0, DEL, C1) and every character that rewrites the display
 * (bidi controls, invisible and line-breaking format characters) shown as `\xHH` or `\u{HHHH}`.
 */
export function terminalSafe(text: string, options: TerminalSafeOptions = {}): string {
  if (options.raw === true) return text;
  return text.replace(options.keepLayout === true ? UNSAFE_EXCEPT_LAYOUT : UNSAFE, visibleEscape);
}

/**
 * JSON for printing: JSON.stringify leaves C1 and the display-rewriting characters raw, so they are
 * written as `\uHHHH` escapes, which every JSON reader decodes to the same string (lossless).
 */
export function terminalSafeJson(value: unknown): string {
  // Inside strings JSON.stringify already escaped C0; a raw newline or tab left is the indentation.
  return JSON.stringify(value, null, 2).replace(UNSAFE_EXCEPT_LAYOUT, jsonEscape);
}

/** {@link terminalSafeJson} on one line, for output with one JSON value per line (NDJSON). */
export function terminalSafeJsonLine(value: unknown): string {
  return JSON.stringify(value).replace(UNSAFE_EXCEPT_LAYOUT, jsonEscape);
}

function visibleEscape(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

function jsonEscape(ch: string): string {
  // Characters above U+FFFF (tags) are two UTF-16 units; JSON escapes each.
  return Array.from({ length: ch.length }, (_, i) => `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`).join('');
}
