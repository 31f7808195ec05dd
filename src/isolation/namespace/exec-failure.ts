/**
 * A command that can't be started reads the same on every runtime: `airlock: CMD: REASON` (the
 * agent's words on gVisor and in persistent sandboxes). In a `namespace` one-shot it is bubblewrap
 * that fails to exec it and says `bwrap: execvp CMD: REASON` as the first line of the sandbox's
 * stderr; that one line is reworded, everything else passes through untouched.
 */
import { Transform } from 'node:stream';

const BWRAP_EXEC = Buffer.from('bwrap: execvp ');
/** Longest first line looked at; beyond it the stream passes as it is. */
const MAX_LINE = 4096;

/** A pass-through for a one-shot's stderr that rewords bubblewrap's exec failure. */
export function execFailureWording(): Transform {
  let head: Buffer | undefined = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (head === undefined) return done(null, chunk);
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, BWRAP_EXEC.length);
      const newline = head.indexOf(0x0a);
      // Not bubblewrap's exec failure (or too long to be one): everything as it came.
      if (!head.subarray(0, n).equals(BWRAP_EXEC.subarray(0, n)) || (newline < 0 && head.length > MAX_LINE)) {
        const out = head;
        head = undefined;
        return done(null, out);
      }
      if (newline < 0) return done();
      const out = Buffer.concat([Buffer.from('airlock: '), head.subarray(BWRAP_EXEC.length)]);
      head = undefined;
      return done(null, out);
    },
    flush(done) {
      done(null, head !== undefined && head.length > 0 ? head : undefined);
    },
  });
}
