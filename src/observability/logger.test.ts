import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger, REDACTED, SecretRedactor } from './logger.ts';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) });
  return { lines, destination };
}

describe('logger', () => {
  it('censors credential fields by path', () => {
    const { lines, destination } = capture();
    const { logger } = createLogger({ destination });
    logger.info({ req: { headers: { authorization: 'Bearer abc' } }, body: { token: 't0ken', environment: { KEY: 'v' } } }, 'x');
    const line = JSON.parse(lines[0] ?? '{}');
    assert.equal(line.req.headers.authorization, REDACTED);
    assert.equal(line.body.token, REDACTED);
    assert.equal(line.body.environment, REDACTED);
  });

  it('registered secret values are replaced wherever they appear', () => {
    const { lines, destination } = capture();
    const log = createLogger({ destination });
    log.registerSecret('hunter2-secret');
    log.registerSecret('quote"d\\value');
    log.logger.info({ cmd: 'curl -H hunter2-secret', nested: { v: 'quote"d\\value' } }, 'ran with hunter2-secret');
    const text = lines.join('');
    assert.doesNotMatch(text, /hunter2-secret/);
    assert.doesNotMatch(text, /quote/);
    const line = JSON.parse(lines[0] ?? '{}');
    assert.equal(line.msg, `ran with ${REDACTED}`);
    assert.equal(line.nested.v, REDACTED);
  });

  it('each logger has its own secrets; very short secrets are refused', () => {
    const a = createLogger({ destination: capture().destination });
    const b = createLogger({ destination: capture().destination });
    a.registerSecret('only-in-a');
    assert.equal(b.secrets.size, 0);
    assert.throws(() => new SecretRedactor().registerSecret('abc'), /at least 4/);
  });
});
