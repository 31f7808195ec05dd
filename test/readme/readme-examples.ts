/**
 * The shell examples of README.md, as the README test runs them.
 *
 * Convention (kept small on purpose; README.md follows it):
 *
 * - Every line of a fenced ```sh or ```bash block is an example; a line ending in `\` continues on
 *   the next one. Everything after an unquoted ` # ` is the reader's comment.
 * - A comment holding `(not run: REASON)` marks a line the test lists but does not run, and says
 *   why (it would install packages, run the whole suite, or never return). Used sparingly.
 * - A block right after the HTML comment `<!-- readme-test: not run: REASON -->` is not run at all.
 * - Placeholders the reader fills in: `s-…` is the sandbox id the last `airlock sandbox create`
 *   printed.
 */

/** One example: where it is, what runs, and why it doesn't when it doesn't. */
export interface ReadmeExample {
  /** 1-based line of README.md where the example starts. */
  readonly line: number;
  /** The command as written (continuations joined), comment included. */
  readonly text: string;
  /** The reason from a `not run` marker; undefined when the example runs. */
  readonly notRun: string | undefined;
}

const NOT_RUN_LINE = /\(not run: ([^)]+)\)/;
const NOT_RUN_BLOCK = /^<!--\s*readme-test: not run: (.+?)\s*-->$/;

/** Every example of every sh/bash block of `markdown`, in order. */
export function readmeExamples(markdown: string): ReadmeExample[] {
  const lines = markdown.split('\n');
  const examples: ReadmeExample[] = [];
  let blockNotRun: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\w*)/.exec(lines[i] ?? '');
    if (fence === null) continue;
    const previous = (lines[i - 1] ?? '').trim();
    blockNotRun = NOT_RUN_BLOCK.exec(previous)?.[1];
    const shell = fence[1] === 'sh' || fence[1] === 'bash';
    let j = i + 1;
    for (; j < lines.length && !(lines[j] ?? '').startsWith('```'); j++) {
      if (!shell) continue;
      const start = j;
      let text = lines[j] ?? '';
      while (text.endsWith('\\') && j + 1 < lines.length) text = `${text}\n${lines[++j] ?? ''}`;
      if (text.trim() === '') continue;
      examples.push({ line: start + 1, text, notRun: blockNotRun ?? NOT_RUN_LINE.exec(text)?.[1] });
    }
    i = j;
  }
  return examples;
}

/** The first words of an example, for a test name: `README:67 airlock run -- python3 …`. */
export function exampleName(example: ReadmeExample): string {
  const flat = example.text.replace(/\\\n\s*/g, ' ').replace(/\s+#\s.*$/, '').trim();
  return `README:${example.line} ${flat.length > 90 ? `${flat.slice(0, 89)}…` : flat}`;
}
