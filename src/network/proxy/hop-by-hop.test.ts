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

  it('drops every header that claims who the client is or which route it took (sandboxes forge them)', () => {
    const raw = [
      'Forwarded', 'for=127.0.0.1;host=api', 'X-Forwarded-For', '127.0.0.1', 'x-forwarded-host', 'admin.internal',
      'X-Forwarded-Proto', 'https', 'X-Forwarded-Port', '443', 'X-Real-IP', '10.0.0.1', 'X-Client-IP', '10.0.0.2',
      'True-Client-IP', '10.0.0.3', 'CF-Connecting-IP', '10.0.0.4', 'X-Cluster-Client-IP', '10.0.0.5', 'Client-IP', '10.0.0.6',
      'X-Originating-IP', '10.0.0.7', 'Via', '1.1 trusted-gateway', 'X-Forwarded', 'for=1.2.3.4',
      'X-Forwardedness', 'kept: not in the family', 'Accept', 'a/b',
    ];
    assert.deepEqual(endToEndHeaders(raw), [['X-Forwardedness', 'kept: not in the family'], ['Accept', 'a/b']]);
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
