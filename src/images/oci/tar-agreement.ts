/**
 * Where tar-stream reads a layer differently from Go's archive/tar (containerd, docker), GNU tar
 * and Python, and the layer is refused instead: one layer must not unpack to one image for the
 * tools that scan or sign it and to another here. Both checks look at tar-stream state that its
 * typings don't name (pinned version); a change there makes them throw, never pass silently.
 */
import type { Extract } from 'tar-stream';
import { ImportError } from './import-error.ts';

interface ExtractInternals {
  _paxGlobal?: Record<string, string> | null;
  _header?: unknown;
  _consumeHeader?: () => boolean;
}

/**
 * Refuses a PAX global header that renames, relinks or resizes entries. Why: GNU tar and Python
 * apply it to every later entry, Go's archive/tar to none, tar-stream only to entries with a PAX
 * header of their own.
 */
export function checkGlobalHeader(extract: Extract): void {
  const internals = extract as unknown as ExtractInternals;
  if (!('_paxGlobal' in internals)) throw new ImportError('tar reader: cannot see PAX global headers (tar-stream changed)');
  const global = internals._paxGlobal;
  if (global === null || global === undefined) return;
  const key = Object.keys(global).find((k) => k === 'path' || k === 'linkpath' || k === 'size' || k.startsWith('GNU.sparse.'));
  if (key !== undefined) throw new ImportError(`the layer's PAX global header sets ${key}, which tar readers apply differently: refused`);
}

/**
 * Watches for the end-of-archive marker (a zero block where a header belongs). Why: Go's
 * archive/tar, GNU tar and Python stop there; tar-stream skips it and reads whatever follows as
 * more entries, which the others never see. Returns whether an entry has been read past it
 * (checked before each entry is applied: the entry is already parsed, not yet used).
 */
export function watchArchiveEnd(extract: Extract): () => boolean {
  const internals = extract as unknown as ExtractInternals;
  const consume = internals._consumeHeader;
  if (typeof consume !== 'function') throw new ImportError('tar reader: cannot see the end-of-archive marker (tar-stream changed)');
  let ended = false;
  let past = false;
  internals._consumeHeader = function consumeHeader(this: ExtractInternals): boolean {
    const before = this._header;
    const result = consume.call(this);
    // A header was decoded when the slot changed: null is the zero block, anything else an entry.
    if (this._header !== before || before === null) {
      if (this._header === null) ended = true;
      else if (ended) past = true;
    }
    return result;
  };
  return () => past;
}
