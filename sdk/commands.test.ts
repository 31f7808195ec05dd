import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { AirlockClient } from './client.ts';
import { execRequestOf } from './commands.ts';
import { AirlockError, CommandExitError, NetworkError, SandboxNotRunningError, TimeoutError } from './errors.ts';
import { Sandbox } from './sandbox.ts';
import { chunkStream, envelope, fakeFetch, type RecordedRequest } from './testing/fake-fetch.ts';

const frame = (f: object) => `${JSON.stringify(f)}\n`;
const exit = (code: number | null, reason = 'completed', signal: string | null = null) =>
  frame({ type: 'exit', exit_code: code, signal, termination_reason: reason, duration_ms: 12 });
const EXEC_HEADERS = { 'content-type': 'application/x-ndjson; charset=utf-8', 'x-airlock-exec-id': 'e-1' };

function sandboxWith(...answers: Parameters<typeof fakeFetch>): { sandbox: Sandbox; requests: RecordedRequest[] } {
  const { fetch, requests } = fakeFetch(...answers);
  return { sandbox: new Sandbox('s-1', new AirlockClient({ fetch })), requests };
}

describe('execRequestOf', () => {
  it('runs a string with sh -c, an argv directly, and maps the options to wire fields', () => {
    assert.deepEqual(execRequestOf('echo $HOME | wc -c', {}), { command: ['sh', '-c', 'echo $HOME | wc -c'] });
    assert.deepEqual(execRequestOf(['python3', '-V'], { env: { A: '1' }, cwd: '/tmp', timeoutMs: 1500, stdin: 'in' }), {
      command: ['python3', '-V'],
      environment: { A: '1' },
      cwd: '/tmp',
      timeout_seconds: 1.5,
      stdin: 'in',
    });
    assert.deepEqual(execRequestOf(['cat'], { stdin: new Uint8Array([0xff, 0, 0x41]) }), { command: ['cat'], stdin: '/wBB', stdin_encoding: 'base64' });
    assert.throws(() => execRequestOf([], {}), (err: unknown) => err instanceof AirlockError && err.code === 'invalid_argument');
  });
});

describe('sandbox.commands.run over a fake fetch', () => {
  it('streams output to the callbacks (text and bytes) and resolves with the result', async () => {
    const body = frame({ type: 'stdout', data: 'héllo\n', encoding: 'utf8' }) + frame({ type: 'stderr', data: '/w==', encoding: 'base64' }) + exit(0);
    // Cut the body into 7-byte pieces: lines and characters arrive split.
    const bytes = new TextEncoder().encode(body);
    const chunks = Array.from({ length: Math.ceil(bytes.length / 7) }, (_, i) => bytes.subarray(i * 7, i * 7 + 7));
    const { sandbox, requests } = sandboxWith({ headers: EXEC_HEADERS, chunks });
    const seen: Array<[string, string, number[]]> = [];
    const result = await sandbox.commands.run('echo héllo', {
      onStdout: (text, raw) => seen.push(['out', text, [...raw]]),
      onStderr: (text, raw) => seen.push(['err', text, [...raw]]),
    });
    assert.deepEqual(result, { execId: 'e-1', stdout: 'héllo\n', stderr: '\ufffd', exitCode: 0, signal: null, terminationReason: 'completed', durationMs: 12 });
    assert.deepEqual(seen, [
      ['out', 'héllo\n', [...new TextEncoder().encode('héllo\n')]],
      ['err', '\ufffd', [0xff]],
    ]);
    assert.equal(requests[0]?.url, 'http://127.0.0.1:8002/api/v1/sandboxes/s-1/exec');
    assert.equal(requests[0]?.headers['accept'], 'application/x-ndjson');
    assert.deepEqual(JSON.parse(String(requests[0]?.body)), { command: ['sh', '-c', 'echo héllo'] });
  });

  it('a non-zero exit rejects with CommandExitError carrying the result', async () => {
    const { sandbox } = sandboxWith({ headers: EXEC_HEADERS, chunks: [frame({ type: 'stderr', data: 'boom\n', encoding: 'utf8' }), exit(3)] });
    await assert.rejects(sandbox.commands.run(['false']), (err: unknown) => {
      assert.ok(err instanceof CommandExitError);
      assert.equal(err.exitCode, 3);
      assert.equal(err.stderr, 'boom\n');
      assert.equal(err.code, 'command_exit');
      assert.equal(err.message, 'command exited with code 3');
      return true;
    });
  });

  it("the server's timeout rejects with TimeoutError carrying the result; other endings with CommandExitError", async () => {
    const { sandbox } = sandboxWith({ headers: EXEC_HEADERS, chunks: [exit(null, 'timeout', 'SIGKILL')] });
    await assert.rejects(sandbox.commands.run('sleep 9', { timeoutMs: 100 }), (err: unknown) => {
      assert.ok(err instanceof TimeoutError);
      assert.equal(err.result?.signal, 'SIGKILL');
      assert.match(err.message, /100 ms/);
      return true;
    });
    const { sandbox: s2 } = sandboxWith({ headers: EXEC_HEADERS, chunks: [exit(null, 'output_limit', 'SIGKILL')] });
    await assert.rejects(s2.commands.run('yes'), /command ended: output limit \(SIGKILL\)/);
  });

  it('a stream cut before its exit frame rejects (never a silent success)', async () => {
    const { sandbox } = sandboxWith({ headers: EXEC_HEADERS, chunks: [frame({ type: 'stdout', data: 'half', encoding: 'utf8' })] });
    await assert.rejects(sandbox.commands.run('x'), (err: unknown) => err instanceof AirlockError && err.code === 'stream_ended');
    const broken = (request: RecordedRequest) => {
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new TextEncoder().encode(frame({ type: 'stdout', data: 'a', encoding: 'utf8' })));
          c.error(new TypeError('terminated'));
        },
      });
      void request;
      return new Response(stream, { headers: EXEC_HEADERS });
    };
    const { sandbox: s2 } = sandboxWith(broken);
    await assert.rejects(s2.commands.run('x'), NetworkError);
  });

  it('an error frame rejects with its typed error', async () => {
    const { sandbox } = sandboxWith({ headers: EXEC_HEADERS, chunks: [frame({ type: 'error', error: { code: 'sandbox_not_running', message: 'ended', request_id: 'r-12345678' } })] });
    await assert.rejects(sandbox.commands.run('x'), SandboxNotRunningError);
  });

  it('a refusal before streaming rejects with the envelope error', async () => {
    const { sandbox } = sandboxWith({ status: 429, headers: { 'retry-after': '2' }, json: envelope('capacity_exceeded') });
    await assert.rejects(sandbox.commands.run('x'), (err: unknown) => (err as { retryAfter?: number }).retryAfter === 2);
  });

  it('a throwing callback rejects the run with its error and closes the stream', async () => {
    let cancelled = false;
    const answer = () =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull: (c) => c.enqueue(new TextEncoder().encode(frame({ type: 'stdout', data: 'x', encoding: 'utf8' }))),
          cancel: () => {
            cancelled = true;
          },
        }),
        { headers: EXEC_HEADERS },
      );
    const { sandbox } = sandboxWith(answer);
    await assert.rejects(
      sandbox.commands.run('yes', {
        onStdout: () => {
          throw new Error('listener failed');
        },
      }),
      /listener failed/,
    );
    assert.equal(cancelled, true);
  });

  it('background: kill() aborts the request and wait() rejects with a killed CommandExitError', async () => {
    const { sandbox, requests } = sandboxWith((request) => new Response(chunkStream([frame({ type: 'stdout', data: 'started\n', encoding: 'utf8' })], request.signal, true), { headers: EXEC_HEADERS }));
    let started!: () => void;
    const gotOutput = new Promise<void>((resolve) => (started = resolve));
    const handle = await sandbox.commands.run('sleep 100', { background: true, onStdout: () => started() });
    await gotOutput;
    assert.equal(handle.execId, 'e-1');
    assert.equal(handle.stdout, 'started\n');
    assert.equal(await handle.kill(), true);
    assert.equal(requests[0]?.signal?.aborted, true, 'the exec request was aborted (the server kills the command)');
    await assert.rejects(handle.wait(), (err: unknown) => {
      assert.ok(err instanceof CommandExitError);
      assert.equal(err.result.terminationReason, 'killed');
      assert.equal(err.result.stdout, 'started\n');
      assert.equal(err.exitCode, null);
      return true;
    });
    assert.equal(await handle.kill(), false, 'already ended');
  });

  it('background: a handle nobody waits on does not leave an unhandled rejection', async () => {
    const { sandbox } = sandboxWith({ headers: EXEC_HEADERS, chunks: [exit(1)] });
    const handle = await sandbox.commands.run('false', { background: true });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await assert.rejects(handle.wait(), CommandExitError);
  });

  it("a caller's signal cancels the run with the signal's reason", async () => {
    const { sandbox } = sandboxWith((request) => new Response(chunkStream([], request.signal, true), { headers: EXEC_HEADERS }));
    const controller = new AbortController();
    const run = sandbox.commands.run('sleep 100', { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('stop it')), 10);
    await assert.rejects(run, /stop it/);
  });
});

describe('browser safety', () => {
  it('importing the SDK loads only sdk/ modules: no node: built-ins, no zod, no server code', () => {
    const sdkDir = fileURLToPath(new URL('./', import.meta.url));
    const script = `
      import module from 'node:module';
      const loaded = [];
      module.registerHooks({ resolve(s, c, next) { const r = next(s, c); loaded.push(r.url); return r; } });
      await import(${JSON.stringify(new URL('./index.ts', import.meta.url).href)});
      process.stdout.write(JSON.stringify(loaded));`;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    const loaded = JSON.parse(out.stdout) as string[];
    assert.ok(loaded.length > 3);
    for (const url of loaded) {
      assert.ok(url.startsWith('file://') && fileURLToPath(url).startsWith(sdkDir), `the SDK loaded ${url}`);
      assert.ok(!fileURLToPath(url).includes('/testing/'), `the SDK loaded a test helper: ${url}`);
    }
  });
});
