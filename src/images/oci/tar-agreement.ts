/**
 * Where tar-stream reads a layer differently from Go's archive/tar (containerd, docker), GNU tar
 * and Python, and the layer is refused instead: one layer must not unpack to one image for the
 * tools that scan or sign it and to another here. The checks look at tar-stream state that its
 * typings don't name (pinned version); a change there makes them throw, never pass silently.
 */
import type { Extract } from 'tar-stream';
import { ImportError } from './import-error.ts';

interface ExtractInternals {
  _paxGlobal?: Record<string, string> | null;
  _header?: unknown;
  _consumeHeader?: () => boolean;
  _applyLongHeaders?: () => void;
  _gnuLongPath?: string | null;
  _gnuLongLinkPath?: string | null;
  _pax?: Record<string, string> | null;
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
 * Watches tar-stream as it parses, for what it reads differently from the others; returns the
 * first such finding, or null (checked before each entry is applied: the entry is already parsed,
 * not yet used).
 * - The end-of-archive marker (a zero block where a header belongs). Why: Go's archive/tar, GNU
 *   tar and Python stop there; tar-stream skips it and reads whatever follows as more entries.
 * - A GNU long name (or link) and a PAX path (or linkpath) for one entry. Why: Go takes the GNU
 *   one, tar-stream the PAX one.
 */
export function watchTarReader(extract: Extract): () => string | null {
  const internals = extract as unknown as ExtractInternals;
  const consume = internals._consumeHeader;
  const applyLong = internals._applyLongHeaders;
  if (typeof consume !== 'function' || typeof applyLong !== 'function') throw new ImportError('tar reader: cannot watch its parser (tar-stream changed)');
  let ended = false;
  let finding: string | null = null;
  internals._consumeHeader = function consumeHeader(this: ExtractInternals): boolean {
    const before = this._header;
    const result = consume.call(this);
    // A header was decoded when the slot changed: null is the zero block, anything else an entry.
    if (this._header !== before || before === null) {
      if (this._header === null) ended = true;
      else if (ended) finding ??= 'lies after the end-of-archive marker, where other tar readers stop';
    }
    return result;
  };
  internals._applyLongHeaders = function applyLongHeaders(this: ExtractInternals): void {
    const pax = this._pax ?? {};
    if ((this._gnuLongPath && pax['path'] !== undefined) || (this._gnuLongLinkPath && pax['linkpath'] !== undefined)) {
      finding ??= 'has both a GNU long name and a PAX path, which tar readers choose between differently';
    }
    applyLong.call(this);
  };
  return () => finding;
}
