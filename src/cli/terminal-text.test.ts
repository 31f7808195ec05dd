import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { terminalSafe, terminalSafeJson } from './terminal-text.ts';

/** Attacks a sandbox can plant in text the CLI prints, with what the operator must see instead. */
const ATTACKS: [string, string, string][] = [
  ['OSC 52 clipboard write', '\x1b]52;c;Y3VybCBldmlsfHNo\x07', '\\x1b]52;c;Y3VybCBldmlsfHNo\\x07'],
  ['OSC 52 with ST terminator', '\x1b]52;c;eA==\x1b\\', '\\x1b]52;c;eA==\\x1b\\'],
  ['CSI 2J clear screen + home', '\x1b[2J\x1b[H', '\\x1b[2J\\x1b[H'],
  ['OSC 0 window title', '\x1b]0;owned\x07', '\\x1b]0;owned\\x07'],
  ['8-bit C1 CSI (U+009B)', '\u009b2J', '\\x9b2J'],
  ['8-bit C1 OSC (U+009D)', '\u009d0;t\u009c', '\\x9d0;t\\x9c'],
  ['bidi override U+202E', 'safe\u202Etxt.exe', 'safe\\u{202e}txt.exe'],
  ['bidi isolates U+2066-U+2069', '\u2066a\u2069', '\\u{2066}a\\u{2069}'],
  ['carriage return over the line', 'ok\rFAIL', 'ok\\x0dFAIL'],
  ['backspace and DEL', 'a\bb\x7f', 'a\\x08b\\x7f'],
  ['zero-width space and BOM', 'ad\u200Bmin\uFEFF', 'ad\\u{200b}min\\u{feff}'],
  ['line separator U+2028', 'a\u2028b', 'a\\u{2028}b'],
  ['invisible tag characters', 'x\u{E0041}\u{E007F}', 'x\\u{e0041}\\u{e007f}'],
  ['NUL and bell', 'a\0\x07', 'a\\x00\\x07'],
];

describe('terminalSafe', () => {
  for (const [name, attack, shown] of ATTACKS) {
    it(`escapes ${name}`, () => {
      assert.equal(terminalSafe(attack), shown);
      // Nothing a terminal interprets is left.
      // eslint-disable-next-line no-control-regex -- finding control characters is the point
      assert.doesNotMatch(terminalSafe(attack), /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
    });
  }

  it('escapes newline and tab in one-line fields, keeps them where layout allows', () => {
    assert.equal(terminalSafe('a\nb\tc'), 'a\\x0ab\\x09c');
    assert.equal(terminalSafe('a\nb\tc\x1b[2J', { keepLayout: true }), 'a\nb\tc\\x1b[2J');
  });

  it('leaves printable text alone, including non-Latin scripts and emoji', () => {
    for (const text of ['team=ml,owner=ana', 'naïve café', '日本語', 'مرحبا', '👩‍💻', 'path\\with\\backslashes']) {
      assert.equal(terminalSafe(text), text);
    }
  });

  it('prints everything unchanged with raw', () => {
    for (const [, attack] of ATTACKS) assert.equal(terminalSafe(attack, { raw: true }), attack);
  });
});

describe('terminalSafeJson', () => {
  it('escapes C0 (JSON itself), C1 and bidi as \\u escapes and stays the same JSON value', () => {
    const value = { metadata: { note: '\x1b]52;c;eA==\x07\u009b2J\u202E\u{E0041}' }, n: 1 };
    const text = terminalSafeJson(value);
    // eslint-disable-next-line no-control-regex -- finding control characters is the point
    assert.doesNotMatch(text, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]/);
    assert.match(text, /\\u009b2J\\u202e\\udb40\\udc41/);
    assert.deepEqual(JSON.parse(text), value);
    assert.equal(text.split('\n').length, JSON.stringify(value, null, 2).split('\n').length, 'indentation kept');
  });
});
