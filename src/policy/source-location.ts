/** Turns Cedar's source offsets into the line and column a person looks for in the file. */

/** A 1-based line and column in a text file. */
export interface LineColumn {
  line: number;
  column: number;
}

/**
 * Position of a Cedar source offset in `text`. Cedar reports offsets into the UTF-8 bytes of the
 * text it parsed, so the prefix is cut from the bytes, not from the JavaScript string.
 */
export function lineColumnAt(text: string, byteOffset: number): LineColumn {
  const prefix = Buffer.from(text, 'utf8').subarray(0, Math.max(0, byteOffset)).toString('utf8');
  const lastBreak = prefix.lastIndexOf('\n');
  let line = 1;
  for (const ch of prefix) if (ch === '\n') line++;
  return { line, column: prefix.length - lastBreak };
}
