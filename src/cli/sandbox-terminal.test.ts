/**
 * T28's last clause, end to end: the CLI in a child process against the API (in front of the fake
 * service, so it runs on any host) prints sandbox-chosen text (metadata, file names, error messages
 * quoting them) with every control sequence escaped, and exactly as stored with `--raw`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../api/app.ts';
import { ServiceError } from '../sandbox/errors.ts';
import { FakeService } from '../../test/api/fake-service.ts';
import { createLoopbackAccess } from '../admission/loopback-access.ts';
import { runCli } from './test-cli.ts';

/** What a hostile sandbox (or its creator) plants: clipboard write, title, clear screen, 8-bit CSI, bidi override. */
const PLANTED = {
  clip: '\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g=\x07',
  title: '\x1b]0;owned\x07',
  clear: '\x1b[2J\x1b[H',
  c1: '\u009b31m',
  bidi: 'report\u202Efdp.exe',
};
const ESCAPED = {
  clip: '\\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g=\\x07',
  title: '\\x1b]0;owned\\x07',
  clear: '\\x1b[2J\\x1b[H',
  c1: '\\x9b31m',
  bidi: 'report\\u{202e}fdp.exe',
};
/** Anything a terminal would act on: C0 but newline, DEL, C1, bidi controls. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const TERMINAL_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

describe('airlock sandbox: sandbox-chosen text reaches the terminal escaped', { timeout: 60_000 }, () => {
  let app: FastifyInstance;
  let service: FakeService;
  let url: string[];
  let id: string;

  before(async () => {
    service = new FakeService();
    app = buildApp({ service, access: await createLoopbackAccess() });
    url = ['--url', await app.listen({ host: '127.0.0.1', port: 0 })];
    const created = await app.inject({ method: 'POST', url: '/api/v1/sandboxes', payload: { metadata: PLANTED } });
    assert.equal(created.statusCode, 201, created.body);
    id = (created.json() as { sandbox_id: string }).sandbox_id;
    // A file the sandbox named, and a server message that quotes sandbox text.
    service.files.set(`${id}:/tmp/${PLANTED.title}notes.txt`, Buffer.from('x'));
    service.kill = async () => {
      throw new ServiceError('sandbox_not_running', `sandbox ${id} ended: ${PLANTED.clear}${PLANTED.bidi}`);
    };
  });
  after(() => app.close());

  it('sandbox ls escapes OSC 52, OSC 0, CSI 2J, C1 CSI and bidi overrides in metadata', async () => {
    const run = await runCli(['sandbox', 'ls', ...url]);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, TERMINAL_CONTROL);
    for (const [key, shown] of Object.entries(ESCAPED)) assert.ok(run.stdout.includes(`${key}=${shown}`), `${key}: ${JSON.stringify(run.stdout)}`);
  });

  it('sandbox ls --raw prints the metadata exactly as stored', async () => {
    const run = await runCli(['sandbox', 'ls', ...url, '--raw']);
    assert.equal(run.code, 0, run.stderr);
    for (const [key, planted] of Object.entries(PLANTED)) assert.ok(run.stdout.includes(`${key}=${planted}`), key);
  });

  it('sandbox ls --json is the same value, with C1 and bidi as \\u escapes', async () => {
    const run = await runCli(['sandbox', 'ls', ...url, '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, TERMINAL_CONTROL);
    const listed = (JSON.parse(run.stdout) as { sandbox_id: string; metadata: Record<string, string> }[]).find((s) => s.sandbox_id === id);
    assert.deepEqual(listed?.metadata, PLANTED);
  });

  it('sandbox files ls escapes a sandbox-chosen file name; --raw keeps it', async () => {
    const escaped = await runCli(['sandbox', 'files', 'ls', id, '/tmp', ...url]);
    assert.equal(escaped.code, 0, escaped.stderr);
    assert.doesNotMatch(escaped.stdout, TERMINAL_CONTROL);
    assert.match(escaped.stdout, /\\x1b\]0;owned\\x07notes\.txt/);
    const raw = await runCli(['sandbox', 'files', 'ls', id, '/tmp', ...url, '--raw']);
    assert.ok(raw.stdout.includes(`${PLANTED.title}notes.txt`));
  });

  it('an error message quoting sandbox text is escaped on stderr', async () => {
    const run = await runCli(['sandbox', 'kill', id, ...url]);
    assert.equal(run.code, 1);
    assert.doesNotMatch(run.stderr, TERMINAL_CONTROL);
    assert.ok(run.stderr.includes(`ended: ${ESCAPED.clear}${ESCAPED.bidi} [sandbox_not_running]`), run.stderr);
  });
});
