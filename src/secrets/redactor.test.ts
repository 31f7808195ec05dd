import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { Redactor, redactionMarker } from './redactor.ts';
import { SecretValue } from './value.ts';

const VALUE = 'sk-test-4f9a2c7e1b8d6053';
const secret = new SecretValue('openai_key', Buffer.from(VALUE));
const MARK = redactionMarker('openai_key');

/** Feeds `text` through a stream in chunks of `size` bytes and returns what comes out. */
function streamed(redactor: Redactor, text: string, size: number): string {
  const stream = redactor.stream();
  const data = Buffer.from(text);
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(stream.push(data.subarray(i, i + size)));
  out.push(stream.end());
  return Buffer.concat(out).toString();
}

test('the raw value is replaced by a marker naming the secret, in text and buffers', () => {
  const r = new Redactor([secret]);
  assert.equal(r.text(`key=${VALUE}\n`), `key=${MARK}\n`);
  assert.equal(r.buffer(Buffer.from(`${VALUE}${VALUE}`)).toString(), `${MARK}${MARK}`);
});

test('a value split across chunks of every size is still redacted, and nothing else changes', () => {
  const r = new Redactor([secret]);
  const text = `before ${VALUE} middle ${VALUE}after`;
  for (let size = 1; size <= text.length; size++) {
    assert.equal(streamed(r, text, size), `before ${MARK} middle ${MARK}after`, `chunk size ${size}`);
  }
});

test('hex (both cases) and base64 (standard, URL-safe, at any offset in a longer encoding) are redacted', () => {
  const r = new Redactor([secret]);
  const raw = Buffer.from(VALUE);
  assert.equal(r.text(raw.toString('hex')), MARK);
  assert.equal(r.text(raw.toString('hex').toUpperCase()), MARK);
  assert.equal(r.text(raw.toString('base64')), MARK);
  assert.equal(r.text(raw.toString('base64url')), MARK);
  for (const prefix of ['', 'a', 'ab', 'abc', 'Authorization: Bearer ']) {
    for (const suffix of ['', 'x', 'xy', '\n']) {
      const encoded = Buffer.from(`${prefix}${VALUE}${suffix}`).toString('base64');
      const out = streamed(r, encoded, 7);
      assert.ok(out.includes(MARK), `base64 of ${JSON.stringify(prefix)}+value+${JSON.stringify(suffix)}: ${out}`);
      // What is left of the encoding can't decode back to the value or most of it.
      assert.ok(!Buffer.from(out.replace(MARK, ''), 'base64').toString('latin1').includes(VALUE.slice(0, 10)));
    }
  }
});

test('an encoding wrapped over several lines (base64 wraps at 76 columns) is still redacted, in any chunking', () => {
  const long = new SecretValue('long_key', Buffer.from(`sk-proj-${'A1b2C3d4'.repeat(12)}`));
  const r = new Redactor([long]);
  const wrapped = Buffer.from(long.bytes()).toString('base64').replace(/(.{76})/g, '$1\n');
  assert.ok(wrapped.includes('\n'), 'the encoding spans lines');
  for (const size of [1, 7, 64, 1000]) assert.equal(streamed(r, `${wrapped}\n`, size), `${redactionMarker('long_key')}\n`, `chunk size ${size}`);
  const crlf = Buffer.from(long.bytes()).toString('hex').replace(/(.{64})/g, '$1\r\n');
  assert.equal(r.text(crlf), redactionMarker('long_key'));
});

test('several secrets each get their own marker; text without them passes untouched', () => {
  const other = new SecretValue('db_password', Buffer.from('hunter2-hunter2'));
  const r = new Redactor([secret, other]);
  assert.equal(r.text(`${VALUE}/hunter2-hunter2`), `${MARK}/${redactionMarker('db_password')}`);
  assert.equal(streamed(r, 'nothing secret here', 3), 'nothing secret here');
});

test('without secrets a stream releases every chunk at once, unchanged', () => {
  const stream = new Redactor([]).stream();
  const chunk = Buffer.from('abc');
  assert.equal(stream.push(chunk), chunk);
  assert.equal(stream.end().length, 0);
});

test('a stream holds back only a tail that could still become a value, and releases it once it cannot', () => {
  const stream = new Redactor([secret]).stream();
  // A prompt (nothing a value's forms start with) goes out at once: an interactive exec is not held up.
  assert.equal(stream.push(Buffer.from('>>> ')).toString(), '>>> ');
  assert.equal(stream.push(Buffer.from('.'.repeat(200))).toString(), '.'.repeat(200));
  // The start of the value is held, then released when the next byte shows it is not the value.
  assert.equal(stream.push(Buffer.from('x sk-test-4f')).toString(), 'x ');
  assert.equal(stream.push(Buffer.from('!')).toString(), 'sk-test-4f!');
  // A complete base64 core is held while the padded encoding could still follow, then redacted whole.
  const b64 = Buffer.from(VALUE).toString('base64');
  assert.equal(stream.push(Buffer.from(b64.slice(0, -1))).toString(), '');
  assert.equal(stream.push(Buffer.from(`${b64.slice(-1)} `)).toString(), `${MARK} `);
  assert.equal(stream.end().length, 0);
});

test('a SecretValue never prints its bytes', () => {
  const value = secret;
  for (const shown of [String(value), JSON.stringify({ value }), inspect({ value }), `${value}`]) {
    assert.ok(!shown.includes(VALUE), shown);
    assert.ok(shown.includes('openai_key'));
  }
  assert.equal(value.bytes().toString(), VALUE);
});
