import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAbsoluteTarget, parseConnectTarget, parseHostHeader } from './target.ts';

describe('parseAbsoluteTarget', () => {
  const cases: [string, string, number][] = [
    ['http://Example.COM./a?b=1', 'example.com', 80],
    ['http://2130706433/', '127.0.0.1', 80],
    ['http://0177.0.0.1/', '127.0.0.1', 80],
    ['http://0x7f.0.0.1/', '127.0.0.1', 80],
    ['http://127.1/', '127.0.0.1', 80],
    ['http://[::ffff:127.0.0.1]/', '127.0.0.1', 80],
    ['http://[::FFFF:7f00:1]:8080/', '127.0.0.1', 8080],
    ['http://[::1]:81/', '::1', 81],
    ['HTTP://bücher.de/', 'xn--bcher-kva.de', 80],
    ['http://a.com\\@evil.com/', 'a.com', 80],
  ];
  for (const [input, host, port] of cases) {
    it(`judges ${input} as ${host}:${port}`, () => {
      const parsed = parseAbsoluteTarget(input);
      assert.ok(parsed.ok);
      assert.equal(parsed.value.host, host);
      assert.equal(parsed.value.port, port);
    });
  }

  it('keeps the normalized path and query, and the raw path', () => {
    const parsed = parseAbsoluteTarget('http://x.com/a/../b/%2e%2e/c?q=%2f');
    assert.ok(parsed.ok);
    assert.equal(parsed.value.pathAndQuery, '/c?q=%2f');
    assert.equal(parsed.value.pathname, '/c');
    assert.equal(parsed.value.rawPath, '/a/../b/%2e%2e/c?q=%2f');
  });

  const refusals: [string, string][] = [
    ['/index.html', 'not_a_proxy_request'],
    ['*', 'not_a_proxy_request'],
    ['http://allowed.com@evil.com/', 'userinfo_in_url'],
    ['http://user:pw@evil.com/', 'userinfo_in_url'],
    ['http://@evil.com/', 'userinfo_in_url'],
    ['https://example.com/', 'unsupported_scheme'],
    ['ftp://example.com/', 'unsupported_scheme'],
    ['file:///etc/passwd', 'unsupported_scheme'],
    ['http://example.com:0/', 'bad_target'],
    ['http://example.com:99999/', 'bad_target'],
    ['http://ex..com/', 'bad_target'],
    ['http:///', 'bad_target'],
    ['example.com:80', 'bad_target'],
  ];
  for (const [input, reason] of refusals) {
    it(`refuses ${input} as ${reason}`, () => assert.deepEqual(parseAbsoluteTarget(input), { ok: false, reason }));
  }
});

describe('parseConnectTarget', () => {
  const cases: [string, string, number][] = [
    ['example.com:443', 'example.com', 443],
    ['LOCALHOST.:443', 'localhost', 443],
    ['0x7f.0.0.1:443', '127.0.0.1', 443],
    ['2130706433:443', '127.0.0.1', 443],
    ['[::ffff:7f00:1]:443', '127.0.0.1', 443],
    ['[::1]:8443', '::1', 8443],
  ];
  for (const [input, host, port] of cases) {
    it(`judges CONNECT ${input} as ${host}:${port}`, () => assert.deepEqual(parseConnectTarget(input), { ok: true, value: { host, port } }));
  }

  const refusals: [string, string][] = [
    ['example.com', 'bad_target'],
    ['example.com:', 'bad_target'],
    ['example.com:0', 'bad_target'],
    ['example.com:70000', 'bad_target'],
    ['a@example.com:443', 'userinfo_in_url'],
    ['example.com/x:443', 'bad_target'],
    ['example.com:443/', 'bad_target'],
    ['example.com?:443', 'bad_target'],
    ['example.com#:443', 'bad_target'],
    ['exa mple.com:443', 'bad_target'],
    ['::1:443', 'bad_target'],
    ['http://example.com:443', 'bad_target'],
    ['', 'bad_target'],
  ];
  for (const [input, reason] of refusals) {
    it(`refuses CONNECT ${JSON.stringify(input)} as ${reason}`, () => assert.deepEqual(parseConnectTarget(input), { ok: false, reason }));
  }
});

describe('parseHostHeader', () => {
  it('normalizes like the target and applies the default port', () => {
    assert.deepEqual(parseHostHeader('Example.com.', 80), { host: 'example.com', port: 80 });
    assert.deepEqual(parseHostHeader('example.com:8080', 80), { host: 'example.com', port: 8080 });
    assert.deepEqual(parseHostHeader('[::ffff:7f00:1]:81', 80), { host: '127.0.0.1', port: 81 });
  });

  it('refuses anything but host[:port]', () => {
    for (const value of ['', 'a@b.com', 'b.com/x', 'b.com:x', 'b.com:0', 'b.com, c.com']) assert.equal(parseHostHeader(value, 80), null, value);
  });
});
