import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BoundedCollector, ChunkEncoder, chooseExecMode, chooseOneShotMode, formatFrame, incompleteUtf8Tail } from './exec-stream.ts';

describe('exec output framing', () => {
  it('finds incomplete UTF-8 tails', () => {
    const euro = Buffer.from('€'); // 3 bytes
    const emoji = Buffer.from('😀'); // 4 bytes
    assert.equal(incompleteUtf8Tail(Buffer.from('abc')), 0);
    assert.equal(incompleteUtf8Tail(euro), 0);
    assert.equal(incompleteUtf8Tail(euro.subarray(0, 1)), 1);
    assert.equal(incompleteUtf8Tail(euro.subarray(0, 2)), 2);
    assert.equal(incompleteUtf8Tail(emoji.subarray(0, 3)), 3);
    assert.equal(incompleteUtf8Tail(Buffer.from([0x41, 0xff])), 0);
  });

  it('joins characters split across chunks and base64s invalid bytes', () => {
    const enc = new ChunkEncoder();
    const emoji = Buffer.from('😀');
    assert.equal(enc.push(emoji.subarray(0, 2)), undefined);
    assert.deepEqual(enc.push(Buffer.concat([emoji.subarray(2), Buffer.from('x')])), { data: '😀x', encoding: 'utf8' });
    assert.deepEqual(enc.push(Buffer.from([0xc3, 0x28])), { data: Buffer.from([0xc3, 0x28]).toString('base64'), encoding: 'base64' });
    assert.equal(enc.push(Buffer.from([0xe2])), undefined);
    assert.deepEqual(enc.flush(), { data: '4g==', encoding: 'base64' });
    assert.equal(enc.flush(), undefined);
  });

  it('formats NDJSON lines and SSE events; newlines never break a frame', () => {
    const frame = { type: 'stdout', data: 'a\nb\r\n', encoding: 'utf8' };
    const line = formatFrame(frame, 'ndjson');
    assert.equal(line.split('\n').length, 2);
    assert.deepEqual(JSON.parse(line), frame);
    assert.equal(formatFrame(frame, 'sse'), `event: stdout\ndata: ${JSON.stringify(frame)}\n\n`);
  });

  it('chooses the mode from ?stream and Accept', () => {
    assert.equal(chooseExecMode(undefined, undefined), 'ndjson');
    assert.equal(chooseExecMode(undefined, '*/*'), 'ndjson');
    assert.equal(chooseExecMode('false', 'text/event-stream'), 'json');
    assert.equal(chooseExecMode(undefined, 'text/event-stream'), 'sse');
    assert.equal(chooseExecMode(undefined, 'application/json'), 'json');
    assert.equal(chooseExecMode('true', 'application/json'), 'ndjson');
    assert.equal(chooseExecMode(undefined, 'Application/X-NDJSON'), 'ndjson');
  });

  it('a one-shot streams only when Accept asks for a stream', () => {
    assert.equal(chooseOneShotMode(undefined), 'json');
    assert.equal(chooseOneShotMode('*/*'), 'json');
    assert.equal(chooseOneShotMode('application/json'), 'json');
    assert.equal(chooseOneShotMode('application/x-ndjson'), 'ndjson');
    assert.equal(chooseOneShotMode('text/event-stream, application/json'), 'sse');
  });

  it('collects up to the limit and reports truncation without a cut character', () => {
    const c = new BoundedCollector(4);
    c.push(Buffer.from('ab'));
    c.push(Buffer.from('c€'));
    assert.equal(c.truncated, true);
    assert.deepEqual(c.result(), { data: 'abc', encoding: 'utf8' });
    const small = new BoundedCollector(10);
    small.push(Buffer.from('hi'));
    assert.equal(small.truncated, false);
  });
});
