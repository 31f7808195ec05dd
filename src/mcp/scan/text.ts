/**
 * Text normalisation before matching, so invisible characters can't split a trigger word and
 * compatibility forms (fullwidth letters, ligatures) can't dodge a pattern.
 */

/** Printable ASCII and ordinary whitespace only: nothing to normalise. */
const PLAIN = /^[\t\n\r\x20-\x7e]*$/;
/** Unicode tag characters that mirror printable ASCII (U+E0020–U+E007E). */
const TAG_ASCII = /[\u{E0020}-\u{E007E}]/gu;
/** Format characters (zero-width, bidi controls, soft hyphen, BOM, other tags) and variation selectors. */
const INVISIBLE = /[\p{Cf}\u{FE00}-\u{FE0F}\u{E0100}-\u{E01EF}]/gu;

/** Cyrillic and Greek letters that look like Latin ones, and the Latin letter each imitates. */
const CONFUSABLES: Readonly<Record<string, string>> = {
  а: 'a', е: 'e', о: 'o', р: 'p', с: 'c', у: 'y', х: 'x', і: 'i', ј: 'j', ѕ: 's', ԁ: 'd', һ: 'h', ԛ: 'q', ԝ: 'w', ӏ: 'l',
  А: 'A', В: 'B', Е: 'E', К: 'K', М: 'M', Н: 'H', О: 'O', Р: 'P', С: 'C', Т: 'T', Х: 'X', І: 'I', Ј: 'J', Ѕ: 'S',
  ο: 'o', ν: 'v', α: 'a', ι: 'i', κ: 'k', ρ: 'p', υ: 'u',
  Α: 'A', Β: 'B', Ε: 'E', Ζ: 'Z', Η: 'H', Ι: 'I', Κ: 'K', Μ: 'M', Ν: 'N', Ο: 'O', Ρ: 'P', Τ: 'T', Χ: 'X', Υ: 'Y',
};
const CONFUSABLE = new RegExp(`[${Object.keys(CONFUSABLES).join('')}]`, 'gu');
/** A word that mixes Latin letters with Cyrillic or Greek ones: the shape of a homoglyph attack. */
const MIXED_WORD = /(?<!\p{L})(?=\p{L}*\p{Script=Latin})(?=\p{L}*[\p{Script=Cyrillic}\p{Script=Greek}])\p{L}+/gu;

/**
 * `raw` as the patterns see it: Unicode tag characters decoded to the ASCII they hide (so a
 * smuggled message is read, not dropped), other invisible characters removed, NFKC, and in words
 * that mix Latin with Cyrillic or Greek, the look-alike letters read as the Latin they imitate.
 */
export function normalise(raw: string): string {
  if (PLAIN.test(raw)) return raw;
  // Why decode tags rather than drop them: the hidden text is the payload the model would read.
  const decoded = raw.replace(TAG_ASCII, (char) => String.fromCharCode((char.codePointAt(0) ?? 0xe0020) - 0xe0000));
  const folded = decoded.replace(INVISIBLE, '').normalize('NFKC');
  // Why only mixed words: Russian or Greek prose stays as it is; "іgnore" with a Cyrillic і does not.
  return folded.replace(MIXED_WORD, (word) => word.replace(CONFUSABLE, (char) => CONFUSABLES[char] ?? char));
}

/** Shows control and invisible characters as \u{…} so an excerpt is readable and safe to log. */
function visible(text: string): string {
  return text.replace(/[\p{C}\p{Zl}\p{Zp}\u{FE00}-\u{FE0F}\u{E0100}-\u{E01EF}]/gu, (char) => {
    const code = char.codePointAt(0) ?? 0;
    return code === 0x0a || code === 0x09 || code === 0x0d ? ' ' : `\\u{${code.toString(16)}}`;
  });
}

/** Up to `chars` characters of `text` around [start, end), whitespace collapsed, invisibles shown. */
export function excerpt(text: string, start: number, end: number, chars: number): string {
  const room = Math.max(0, chars - (end - start));
  const from = Math.max(0, start - Math.floor(room / 2));
  const to = Math.min(text.length, Math.max(end, from + chars));
  const body = visible(text.slice(from, Math.min(to, from + chars * 2))).replace(/\s+/g, ' ').trim();
  const clipped = body.length > chars ? `${body.slice(0, chars)}…` : body;
  return `${from > 0 ? '…' : ''}${clipped}${to < text.length && body.length <= chars ? '…' : ''}`;
}
