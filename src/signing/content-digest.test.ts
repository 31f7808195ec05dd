import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contentDigest, contentDigestProblem } from './content-digest.ts';

const BODY = new TextEncoder().encode('{"hello": "world"}');

test('Content-Digest is sha-256 of the exact body bytes as a structured dictionary', () => {
  // Known answer: SHA-256 of {"hello": "world"} (the RFC 9421/9530 example body).
  assert.equal(contentDigest(BODY), 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:');
  assert.equal(contentDigestProblem(contentDigest(BODY), BODY), null);
});

test('a digest is checked, not trusted: mismatch, missing sha-256, garbage and the wrong type are each named', () => {
  assert.match(contentDigestProblem(contentDigest(BODY), new TextEncoder().encode('{"hello": "World"}')) ?? '', /does not match/);
  assert.match(contentDigestProblem('sha-512=:AAAA:', BODY) ?? '', /no sha-256 member/);
  assert.match(contentDigestProblem('sha-256=:AAAA', BODY) ?? '', /not a structured dictionary/);
  assert.match(contentDigestProblem('sha-256="X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="', BODY) ?? '', /not a byte sequence/);
  assert.match(contentDigestProblem('sha-256=:AAAA:', BODY) ?? '', /does not match/);
  // Other algorithms listed beside sha-256 do not change the verdict.
  assert.equal(contentDigestProblem(`${contentDigest(BODY)}, sha-512=:AAAA:`, BODY), null);
});
