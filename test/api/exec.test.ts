import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { assertError, json, makeApp } from './helpers.ts';

async function withSandbox(options: Parameters<typeof makeApp>[0] = {}) {
  const made = await makeApp(options);
  const id = (await made.app.inject(json('POST', '/api/v1/sandboxes', {}))).json().sandbox_id as string;
  return { ...made, id, url: `/api/v1/sandboxes/${id}/exec` };
}

const lines = (body: string) => body.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('POST /api/v1/sandboxes/{id}/exec', () => {
  it('streams NDJSON: one frame per line, output then a final exit frame', async () => {
    const { app, service, url } = await withSandbox();
    const res = await app.inject(json('POST', url, { command: ['echo', 'hello'] }));
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /^application\/x-ndjson/);
    assert.ok(res.headers['x-airlock-exec-id']);
    assert.ok(res.headers['x-request-id']);
    assert.ok(res.body.endsWith('\n'));
    const frames = lines(res.body);
    assert.deepEqual(frames.slice(0, 2), [
      { type: 'stdout', data: 'hello\n', encoding: 'utf8' },
      { type: 'stderr', data: 'warn\n', encoding: 'utf8' },
    ]);
    const exit = frames.at(-1);
    assert.equal(exit?.['type'], 'exit');
    assert.equal(exit?.['exit_code'], 0);
    assert.equal(exit?.['signal'], null);
    assert.equal(exit?.['termination_reason'], 'completed');
    assert.equal(typeof exit?.['duration_ms'], 'number');
    assert.deepEqual(service.execs[0]?.options.argv, ['echo', 'hello']);
    assert.equal(service.execs[0]?.options.timeoutMs, 300_000, "default: the sandbox's timeout_seconds");
  });

  it('sends non-UTF-8 output as base64 and joins characters split across chunks', async () => {
    const { app, service, url } = await withSandbox();
    const euro = Buffer.from('€');
    service.execScript = [{ stdout: euro.subarray(0, 1) }, { stdout: Buffer.concat([euro.subarray(1), Buffer.from('!')]) }, { stderr: Buffer.from([0xff, 0xfe]) }];
    const frames = lines((await app.inject(json('POST', url, { command: ['x'] }))).body);
    assert.deepEqual(frames[0], { type: 'stdout', data: '€!', encoding: 'utf8' });
    assert.deepEqual(frames[1], { type: 'stderr', data: Buffer.from([0xff, 0xfe]).toString('base64'), encoding: 'base64' });
  });

  it('speaks SSE when asked', async () => {
    const { app, url } = await withSandbox();
    const res = await app.inject({ ...json('POST', url, { code: 'print(1)' }), headers: { 'content-type': 'application/json', accept: 'text/event-stream' } });
    assert.match(String(res.headers['content-type']), /^text\/event-stream/);
    const events = res.body.split('\n\n').filter((e) => e !== '');
    assert.equal(events[0], `event: stdout\ndata: ${JSON.stringify({ type: 'stdout', data: 'hello\n', encoding: 'utf8' })}`);
    assert.match(events.at(-1) ?? '', /^event: exit\ndata: \{"type":"exit"/);
  });

  it('collects output as JSON with ?stream=false or Accept: application/json, bounded', async () => {
    const { app, service, url } = await withSandbox({ maxCollectedOutputBytes: 4 });
    service.execExit = { code: 3 };
    const res = await app.inject(json('POST', `${url}?stream=false`, { command: ['x'], timeout_seconds: 5 }));
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.stdout, 'hell');
    assert.equal(body.stdout_truncated, true);
    assert.equal(body.stderr, 'warn');
    assert.equal(body.exit_code, 3);
    assert.equal(body.termination_reason, 'completed');
    assert.equal(service.execs[0]?.options.timeoutMs, 5000);
    const viaAccept = await app.inject({ ...json('POST', url, { command: ['x'] }), headers: { 'content-type': 'application/json', accept: 'application/json' } });
    assert.equal(viaAccept.json().exit_code, 3);
  });

  it('writes stdin (utf8 or base64) and closes it', async () => {
    const { app, service, url } = await withSandbox();
    await app.inject(json('POST', url, { command: ['cat'], stdin: 'abc' }));
    await app.inject(json('POST', url, { command: ['cat'], stdin: Buffer.from([0, 1, 2]).toString('base64'), stdin_encoding: 'base64' }));
    await app.inject(json('POST', url, { command: ['cat'] }));
    const [a, b, c] = service.execs;
    assert.equal(a?.options.stdin, true);
    assert.equal(Buffer.concat(a?.session.stdin ?? []).toString(), 'abc');
    assert.equal(a?.session.stdinClosed, true);
    assert.deepEqual([...Buffer.concat(b?.session.stdin ?? [])], [0, 1, 2]);
    assert.equal(c?.options.stdin, false);
    assertError(await app.inject(json('POST', url, { command: ['cat'], stdin: '!!not base64', stdin_encoding: 'base64' })), 400);
    assertError(await app.inject(json('POST', url, { command: ['cat'], stdin_encoding: 'base64' })), 400);
  });

  it('kills the exec when the client disconnects mid-stream', async () => {
    const { app, service, url } = await withSandbox();
    service.execScript = [{ stdout: 'started\n' }, { hang: true }];
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { port } = app.server.address() as AddressInfo;
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: url, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
          res.once('data', (chunk: Buffer) => {
            assert.match(chunk.toString(), /"started\\n"/);
            req.destroy();
            resolve();
          });
        });
        req.on('error', (err) => (String(err).includes('socket hang up') ? undefined : reject(err)));
        req.end(JSON.stringify({ command: ['sleep', 'inf'] }));
      });
      for (let i = 0; i < 100 && service.killedExecs.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(service.killedExecs, [service.execs[0]?.session.execId]);
    } finally {
      await app.close();
    }
  });

  it('kills the exec when the client disconnects while the command is still starting', async () => {
    const { app, service, url } = await withSandbox();
    service.execScript = [{ hang: true }];
    service.execStartDelayMs = 300;
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { port } = app.server.address() as AddressInfo;
      const req = httpRequest({ host: '127.0.0.1', port, path: url, method: 'POST', headers: { 'content-type': 'application/json' } });
      req.on('error', () => undefined);
      req.end(JSON.stringify({ command: ['sleep', 'inf'] }));
      // Gone before the service has handed out the session.
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(service.execs.length, 0);
      req.destroy();
      for (let i = 0; i < 100 && service.killedExecs.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(service.execs.length, 1);
      assert.deepEqual(service.killedExecs, [service.execs[0]?.session.execId]);
    } finally {
      await app.close();
    }
  });

  it('refuses bad exec requests before running anything', async () => {
    const { app, service, url, id } = await withSandbox();
    const bad: Array<[unknown, string?]> = [
      [{}], [{ code: 'x', command: ['y'] }], [{ command: 'ls' }], [{ command: ['ls'], language: 'bash' }], [{ command: ['ls'], cwd: 'relative' }, 'invalid_path'],
      [{ command: ['ls'], cwd: '/tmp/../etc' }, 'invalid_path'], [{ command: ['ls'], timeout_seconds: 10_000 }], [{ command: ['ls'], stdin: 5 }], [{ command: ['ls'], extra: true }],
    ];
    for (const [payload, code] of bad) assertError(await app.inject(json('POST', url, payload)), 400, code ?? 'invalid_request');
    assertError(await app.inject(json('POST', `${url}?stream=maybe`, { command: ['ls'] })), 400, 'invalid_request');
    assertError(await app.inject(json('POST', '/api/v1/sandboxes/s-missing/exec', { command: ['ls'] })), 404, 'sandbox_not_found');
    assert.equal(service.execs.length, 0);
    await app.inject({ method: 'DELETE', url: `/api/v1/sandboxes/${id}` });
    assertError(await app.inject(json('POST', url, { command: ['ls'] })), 409, 'sandbox_not_running');
  });

  it('holds an in-flight slot for the whole exec: past the cap, 429 with Retry-After', async () => {
    const { app, service, url } = await withSandbox({ maxInflight: 1 });
    service.execScript = [{ delayMs: 50 }];
    const first = app.inject(json('POST', url, { command: ['x'] }));
    await new Promise((r) => setTimeout(r, 10));
    const second = await app.inject(json('POST', url, { command: ['x'] }));
    assertError(second, 429, 'capacity_exceeded');
    assert.ok(Number(second.headers['retry-after']) >= 1);
    assert.equal((await first).statusCode, 200);
  });
});
