import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { endToEndHeaders, flatten, framingHeaders } from './hop-by-hop.ts';

describe('endToEndHeaders', () => {
  it('drops hop-by-hop headers, the ones Connection names, Host, framing and the deny header', () => {
    const raw = [
      'Host', 'a.example', 'Connection', 'keep-alive, X-Private', 'connection', 'X-Other', 'X-Private', '1', 'X-Other', '2',
      'Proxy-Connection', 'x', 'Proxy-Authorization', 'Basic eA==', 'Keep-Alive', '5', 'TE', 'trailers', 'Trailer', 'X',
      'Upgrade', 'h2c', 'Content-Length', '3', 'Transfer-Encoding', 'chunked', 'X-Airlock-Deny-Reason', 'forged',
      'Accept', 'a/b', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2',
    ];
    assert.deepEqual(endToEndHeaders(raw), [['Accept', 'a/b'], ['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2']]);
  });
});

describe('framingHeaders', () => {
  it('re-derives framing from the parsed message', () => {
    assert.deepEqual(framingHeaders({ 'transfer-encoding': 'chunked', 'content-length': '5' }), [['Transfer-Encoding', 'chunked']]);
    assert.deepEqual(framingHeaders({ 'content-length': '5' }), [['Content-Length', '5']]);
    assert.deepEqual(framingHeaders({}), []);
  });

  it('flattens pairs into the raw list form', () => {
    assert.deepEqual(flatten([['A', '1'], ['B', '2']]), ['A', '1', 'B', '2']);
  });
});
