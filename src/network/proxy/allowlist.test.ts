import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AllowlistError, findAllowRule, matchesAllowlist, parseAllowEntry, parseAllowlist } from './allowlist.ts';

describe('parseAllowEntry', () => {
  it('parses each entry form with its ports', () => {
    assert.deepEqual(parseAllowEntry('Example.COM.'), { entry: 'Example.COM.', kind: 'host', host: 'example.com', ports: [80, 443] });
    assert.deepEqual(parseAllowEntry('api.example.com:8443').ports, [8443]);
    assert.deepEqual(parseAllowEntry('*.example.com'), { entry: '*.example.com', kind: 'wildcard', host: 'example.com', ports: [80, 443] });
    assert.deepEqual(parseAllowEntry('*.example.com:8080').ports, [8080]);
    assert.deepEqual(parseAllowEntry('1.2.3.4:22'), { entry: '1.2.3.4:22', kind: 'ip', host: '1.2.3.4', ports: [22] });
    assert.deepEqual(parseAllowEntry('[2001:DB8::1]'), { entry: '[2001:DB8::1]', kind: 'ip', host: '2001:db8::1', ports: [80, 443] });
    assert.deepEqual(parseAllowEntry('[2001:db8::1]:443').ports, [443]);
  });

  it('converts IDN names to punycode', () => {
    assert.equal(parseAllowEntry('bücher.de').host, 'xn--bcher-kva.de');
    assert.equal(parseAllowEntry('*.bücher.de').host, 'xn--bcher-kva.de');
  });

  it('canonicalizes IPv4 spellings and IPv4-mapped IPv6 to dotted IPv4', () => {
    assert.equal(parseAllowEntry('[::ffff:1.2.3.4]:443').host, '1.2.3.4');
    assert.equal(parseAllowEntry('0x01.2.3.4').host, '1.2.3.4');
  });

  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['user@example.com', /userinfo/],
    ['example.com/path', /path/],
    ['example.com?q', /path/],
    ['exa mple.com', /whitespace/],
    [' example.com', /whitespace/],
    ['a..example.com', /not a valid host/],
    ['.example.com', /not a valid host/],
    ['example.com..', /not a valid host/],
    ['*', /every host/],
    ['*.com', /public suffix/],
    ['*.co.uk', /public suffix/],
    ['*.github.io', /public suffix/],
    ['*.localhost', /public suffix/],
    ['*.*.example.com', /leading label/],
    ['a.*.example.com', /leading label/],
    ['*example.com', /leading label/],
    ['ex*ample.com', /leading label/],
    ['*.1.2.3', /IP/],
    ['*.0x7f', /IP/],
    ['*.[::1]', /IP/],
    ['example.com:0', /port/],
    ['example.com:65536', /port/],
    ['example.com:http', /port/],
    ['example.com:', /port/],
    ['2001:db8::1', /brackets/],
    ['[2001:db8::1', /\]/],
    ['api.airlock.internal', /internal services/],
    ['*.airlock.internal', /internal services/],
  ];
  for (const [entry, reason] of bad) {
    it(`refuses ${JSON.stringify(entry)}`, () => {
      assert.throws(() => parseAllowEntry(entry), (error: unknown) => {
        assert.ok(error instanceof AllowlistError);
        assert.equal(error.problems.length, 1);
        assert.equal(error.problems[0]?.entry, entry);
        assert.match(error.problems[0]?.reason ?? '', reason);
        return true;
      });
    });
  }

  it('allows a wildcard under a registrable domain, including under a private suffix', () => {
    assert.equal(parseAllowEntry('*.example.co.uk').host, 'example.co.uk');
    assert.equal(parseAllowEntry('*.someone.github.io').host, 'someone.github.io');
  });
});

describe('parseAllowlist', () => {
  it('reports every bad entry at once', () => {
    assert.throws(() => parseAllowlist(['ok.example.com', '*.com', 'x@y.com', '*']), (error: unknown) => {
      assert.ok(error instanceof AllowlistError);
      assert.deepEqual(error.problems.map((p) => p.entry), ['*.com', 'x@y.com', '*']);
      return true;
    });
  });

  it('returns rules in order for a good list', () => {
    assert.deepEqual(parseAllowlist(['a.com', '*.b.com:8080']).map((r) => r.entry), ['a.com', '*.b.com:8080']);
  });
});

describe('matchesAllowlist', () => {
  const rules = parseAllowlist(['example.com', '*.wild.org', '1.2.3.4:8080', '[2001:db8::1]', 'api.test:9000']);

  it('matches exact hosts on the default ports only', () => {
    assert.equal(matchesAllowlist(rules, 'example.com', 443), true);
    assert.equal(matchesAllowlist(rules, 'example.com', 80), true);
    assert.equal(matchesAllowlist(rules, 'example.com', 8080), false);
    assert.equal(matchesAllowlist(rules, 'www.example.com', 443), false);
  });

  it('matches any spelling of an allowed host', () => {
    assert.equal(matchesAllowlist(rules, 'EXAMPLE.com.', 443), true);
    assert.equal(matchesAllowlist(rules, 'example.com..', 443), false);
  });

  it('matches wildcard subdomains at any depth but not the apex', () => {
    assert.equal(matchesAllowlist(rules, 'a.wild.org', 443), true);
    assert.equal(matchesAllowlist(rules, 'a.b.wild.org', 80), true);
    assert.equal(matchesAllowlist(rules, 'wild.org', 443), false);
    assert.equal(matchesAllowlist(rules, 'notwild.org', 443), false);
    assert.equal(matchesAllowlist(rules, 'wild.org.evil.com', 443), false);
  });

  it('matches IP rules on the exact address in canonical form', () => {
    assert.equal(matchesAllowlist(rules, '1.2.3.4', 8080), true);
    assert.equal(matchesAllowlist(rules, '::ffff:1.2.3.4', 8080), true);
    assert.equal(matchesAllowlist(rules, '[::ffff:102:304]', 8080), true);
    assert.equal(matchesAllowlist(rules, '16909060', 8080), true);
    assert.equal(matchesAllowlist(rules, '1.2.3.5', 8080), false);
    assert.equal(matchesAllowlist(rules, '1.2.3.4', 443), false);
    assert.equal(matchesAllowlist(rules, '2001:0db8:0:0::1', 443), true);
    assert.equal(matchesAllowlist(rules, '[2001:db8::2]', 443), false);
  });

  it('returns the matching rule', () => {
    assert.equal(findAllowRule(rules, 'api.test', 9000)?.entry, 'api.test:9000');
    assert.equal(findAllowRule(rules, 'api.test', 443), undefined);
  });

  it('never matches an unparseable host', () => {
    assert.equal(matchesAllowlist(rules, 'example.com@evil.com', 443), false);
    assert.equal(matchesAllowlist(rules, '', 443), false);
  });
});
