/**
 * What redacting a sandbox's output costs the controller: MiB/s of the streaming redactor over
 * 10 MiB of output in 64 KiB chunks (the default output cap), with one secret of 168 bytes, for
 * ordinary text and for output made of a byte every hex form of the value starts with (the
 * redactor's worst case: each such byte near a chunk's end is a possible start of the value).
 */
import { Redactor } from '../src/secrets/redactor.ts';
import { SecretValue } from '../src/secrets/value.ts';
import { summarize, type Summary } from './stats.ts';

const OUTPUT_BYTES = 10 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;

/** One kind of output: its throughput samples, MiB/s. */
export interface RedactionCase {
  output: string;
  mibPerSecond: Summary;
}

export interface RedactionBench {
  outputMiB: number;
  chunkKiB: number;
  secretBytes: number;
  cases: RedactionCase[];
}

function throughput(redactor: Redactor, data: Buffer): number {
  const t0 = performance.now();
  const stream = redactor.stream();
  for (let i = 0; i < data.length; i += CHUNK_BYTES) stream.push(data.subarray(i, i + CHUNK_BYTES));
  stream.end();
  return data.length / 2 ** 20 / ((performance.now() - t0) / 1000);
}

/** Runs each case `n` times (after one warm-up). */
export function benchRedaction(n: number): RedactionBench {
  const value = Buffer.from(`sk-proj-${'A1b2C3d4'.repeat(20)}`);
  const secret = new Redactor([new SecretValue('bench_key', value)]);
  const none = new Redactor([]);
  const text = Buffer.alloc(OUTPUT_BYTES, 'the quick brown fox jumps over the lazy dog 0123456789\n');
  // '7' begins the hex of "s" (0x73): the worst ordinary byte for this value.
  const worst = Buffer.alloc(OUTPUT_BYTES, '7');
  const cases: [string, Redactor, Buffer][] = [['text lines, no secret (pass-through)', none, text], ['text lines, one secret', secret, text], ["'7' repeated, one secret (worst case)", secret, worst]];
  return {
    outputMiB: OUTPUT_BYTES / 2 ** 20,
    chunkKiB: CHUNK_BYTES / 1024,
    secretBytes: value.length,
    cases: cases.map(([output, redactor, data]) => {
      throughput(redactor, data);
      return { output, mibPerSecond: summarize(Array.from({ length: n }, () => throughput(redactor, data))) };
    }),
  };
}

/** The report lines. */
export function redactionLines(r: RedactionBench): string[] {
  const f = (x: number) => x.toFixed(0);
  return [`Output redaction (${r.outputMiB} MiB in ${r.chunkKiB} KiB chunks, a ${r.secretBytes}-byte secret: raw, hex and base64 forms, line breaks allowed), MiB/s p50 (min–max, n):`, ...r.cases.map((c) => `- ${c.output}: ${f(c.mibPerSecond.p50)} (${f(c.mibPerSecond.min)}–${f(c.mibPerSecond.max)}, n ${c.mibPerSecond.n})`)];
}
