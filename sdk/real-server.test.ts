/**
 * The SDK against a real server: the Fastify app in front of the real sandbox service, on a free
 * local port, running real sandboxes. Skipped, with the reason, where this host can't run them
 * (not root, no default image); never passes without running.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AirlockClient,
  CommandExitError,
  FileNotFoundError,
  InvalidRequestError,
  RateLimitError,
  Sandbox,
  SandboxNotFoundError,
  SandboxNotRunningError,
  TimeoutError,
} from './index.ts';
import { realServerSkipReason, startRealServer, type RealServer } from './testing/server.ts';

const skip = await realServerSkipReason();

/** Polls `check` until it returns true or `ms` pass. */
async function eventually(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return check();
}

describe('SDK against a real server', { skip }, () => {
  let server: RealServer;
  let client: AirlockClient;
  let sandbox: Sandbox;

  before(async () => {
    server = await startRealServer();
    client = new AirlockClient({ baseUrl: server.url });
    sandbox = await Sandbox.create({ client, metadata: { suite: 'sdk' }, limits: { memory_limit_mb: 256 }, ttl_seconds: 120 });
  });
  after(async () => {
    await server?.close();
  });

  it('health and the created sandbox', async () => {
    const health = await client.health();
    assert.equal(health.status, 'healthy');
    assert.ok(health.runtimes_available.includes('namespace'));
    const info = await sandbox.info();
    assert.equal(info.sandbox_id, sandbox.id);
    assert.equal(info.state, 'running');
    assert.deepEqual(info.metadata, { suite: 'sdk' });
    assert.equal(info.limits.memory_limit_mb, 256);
    assert.ok((await Sandbox.list({ client })).some((s) => s.sandbox_id === sandbox.id));
    const again = await Sandbox.connect(sandbox.id, { baseUrl: server.url });
    assert.equal(again.id, sandbox.id);
  });

  it('commands.run streams output to the callbacks as it happens', async () => {
    const events: Array<{ stream: string; text: string; at: number }> = [];
    const started = Date.now();
    const result = await sandbox.commands.run('echo one; echo warn >&2; sleep 0.5; echo two', {
      onStdout: (text) => events.push({ stream: 'out', text, at: Date.now() - started }),
      onStderr: (text) => events.push({ stream: 'err', text, at: Date.now() - started }),
    });
    assert.equal(result.stdout, 'one\ntwo\n');
    assert.equal(result.stderr, 'warn\n');
    assert.equal(result.exitCode, 0);
    assert.equal(result.terminationReason, 'completed');
    assert.ok(result.execId !== '');
    const first = events.find((e) => e.text.includes('one'));
    const last = events.find((e) => e.text.includes('two'));
    assert.ok(first !== undefined && last !== undefined, JSON.stringify(events));
    assert.ok(last.at - first.at >= 300, `output arrived live, not at the end: ${JSON.stringify(events)}`);
    assert.ok(events.some((e) => e.stream === 'err' && e.text === 'warn\n'));
  });

  it('passes bytes, stdin, environment and working directory through exactly', async () => {
    const chunks: Uint8Array[] = [];
    const binary = await sandbox.commands.run(['sh', '-c', "printf '\\377\\000A'"], { onStdout: (_text, bytes) => chunks.push(bytes) });
    assert.deepEqual([...chunks.flatMap((c) => [...c])], [0xff, 0x00, 0x41]);
    assert.equal(binary.stdout, '\ufffd\u0000A');
    const piped = await sandbox.commands.run(['od', '-An', '-tx1'], { stdin: new Uint8Array([0xff, 0x01]) });
    assert.equal(piped.stdout.trim(), 'ff 01');
    const env = await sandbox.commands.run('cat; echo "$GREETING"; pwd', { stdin: 'from stdin\n', env: { GREETING: 'héllo' }, cwd: '/tmp' });
    assert.equal(env.stdout, 'from stdin\nhéllo\n/tmp\n');
  });

  it('a non-zero exit rejects with CommandExitError carrying the output', async () => {
    await assert.rejects(sandbox.commands.run('echo partial; echo bad >&2; exit 3'), (err: unknown) => {
      assert.ok(err instanceof CommandExitError);
      assert.equal(err.exitCode, 3);
      assert.equal(err.stdout, 'partial\n');
      assert.equal(err.stderr, 'bad\n');
      assert.equal(err.result.terminationReason, 'completed');
      return true;
    });
  });

  it('timeoutMs: the server kills the command and the run rejects with TimeoutError', async () => {
    const started = Date.now();
    await assert.rejects(sandbox.commands.run('echo before; sleep 30', { timeoutMs: 700 }), (err: unknown) => {
      assert.ok(err instanceof TimeoutError);
      assert.equal(err.result?.terminationReason, 'timeout');
      assert.equal(err.result?.stdout, 'before\n');
      return true;
    });
    assert.ok(Date.now() - started < 10_000);
  });

  it('background + kill: closing the stream makes the server kill the command', async () => {
    const marker = `sleep 3${Math.floor(Math.random() * 1000)}`;
    let seen!: () => void;
    const started = new Promise<void>((resolve) => (seen = resolve));
    const handle = await sandbox.commands.run(`echo started; ${marker}`, { background: true, onStdout: () => seen() });
    await started;
    // Every process's command line, one per line; the marker is matched here, not in the sandbox,
    // so the listing command can't match itself.
    const listing = "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < \"$f\" 2>/dev/null; echo; done";
    const running = async () => (await sandbox.commands.run(listing)).stdout.split('\n').some((l) => l.includes(marker));
    assert.equal(await running(), true, 'the command runs before the kill');
    assert.equal(await handle.kill(), true);
    await assert.rejects(handle.wait(), (err: unknown) => err instanceof CommandExitError && err.result.terminationReason === 'killed');
    assert.equal(await eventually(async () => !(await running()), 5000), true, 'the command is gone after the kill');
  });

  it('files: write, read (text and bytes), list; missing and refused paths', async () => {
    assert.deepEqual(await sandbox.files.write('/tmp/hello.txt', 'héllo\n'), { path: '/tmp/hello.txt', size: 7 });
    assert.equal(await sandbox.files.read('/tmp/hello.txt'), 'héllo\n');
    const all = new Uint8Array(256).map((_, i) => i);
    await sandbox.files.write('/tmp/all.bin', all, { mode: 0o600 });
    assert.deepEqual(await sandbox.files.read('/tmp/all.bin', { format: 'bytes' }), all);
    const entries = await sandbox.files.list('/tmp');
    const bin = entries.find((e) => e.name === 'all.bin');
    assert.equal(bin?.type, 'file');
    assert.equal(bin?.size, 256);
    assert.equal((bin?.mode ?? 0) & 0o777, 0o600);
    assert.ok(entries.some((e) => e.name === 'hello.txt'));
    assert.equal((await sandbox.commands.run('cat /tmp/hello.txt')).stdout, 'héllo\n', 'commands see the files');
    await assert.rejects(sandbox.files.read('/tmp/no-such-file'), FileNotFoundError);
    await assert.rejects(sandbox.files.read('relative/path'), (err: unknown) => err instanceof InvalidRequestError && err.code === 'invalid_path');
    await assert.rejects(sandbox.files.read('/tmp/../etc/passwd'), InvalidRequestError);
  });

  it('setTimeout moves the expiry; an out-of-range TTL is refused', async () => {
    const before = Date.parse((await sandbox.info()).expires_at);
    const info = await sandbox.setTimeout(3_600_000);
    const expires = Date.parse(info.expires_at);
    assert.ok(expires > before, 'expiry moved later');
    assert.ok(Math.abs(expires - (Date.now() + 3_600_000)) < 10_000, info.expires_at);
    await assert.rejects(sandbox.setTimeout(0), InvalidRequestError);
    await assert.rejects(sandbox.setTimeout(25 * 3_600_000), (err: unknown) => err instanceof InvalidRequestError && /ttl_seconds: Too big: expected number to be <=86400/.test(err.message));
  });

  it('network: a default sandbox has network_policy none and no allowlist to replace', async () => {
    assert.equal((await sandbox.info()).network_policy, 'none');
    const net = await sandbox.network();
    assert.equal(net.network_policy, 'none');
    assert.deepEqual([net.allowed_hosts, net.services, net.decisions, net.allowlist_changes], [[], [], [], []]);
    await assert.rejects(sandbox.setAllowlist(['example.com']), (err: unknown) => err instanceof InvalidRequestError && /only restricted sandboxes have an allowlist/.test(err.message));
    assert.deepEqual((await sandbox.network()).allowlist_changes, []);
  });

  it('execute: a one-shot run, with failures reported in the result', async () => {
    const ok = await client.execute({ agent_id: 'sdk-test', code: 'echo $((6 * 7))', language: 'bash', timeout_seconds: 30 });
    assert.equal(ok.success, true);
    assert.equal(ok.output, '42');
    assert.equal(ok.exit_code, 0);
    assert.equal(ok.runtime_used, 'namespace');
    assert.match(ok.policy_hash, /^sha256:/);
    const failed = await client.execute({ agent_id: 'sdk-test', command: ['sh', '-c', 'echo oops >&2; exit 5'] });
    assert.equal(failed.success, false);
    assert.equal(failed.exit_code, 5);
    assert.equal(failed.error?.trim(), 'oops');
    await assert.rejects(client.execute({ agent_id: 'sdk-test', command: ['true'], memory_limit_mb: 1_000_000 }), InvalidRequestError);
  });

  it('an unknown sandbox → SandboxNotFoundError', async () => {
    await assert.rejects(Sandbox.connect('s-does-not-exist', { client }), (err: unknown) => {
      assert.ok(err instanceof SandboxNotFoundError);
      assert.equal(err.status, 404);
      assert.ok((err.requestId ?? '') !== '');
      return true;
    });
    await assert.rejects(new Sandbox('s-does-not-exist', client).commands.run('true'), SandboxNotFoundError);
  });

  it('kill ends the sandbox; later calls say it is not running', async () => {
    const doomed = await Sandbox.create({ client });
    const ended = await doomed.kill();
    assert.equal(ended.state, 'ended');
    assert.equal(ended.end_reason, 'killed');
    assert.equal(await doomed.isRunning(), false);
    await assert.rejects(doomed.commands.run('true'), SandboxNotRunningError);
    await assert.rejects(doomed.files.list('/tmp'), SandboxNotRunningError);
  });
});

describe('SDK against a real server at capacity', { skip }, () => {
  let server: RealServer;
  before(async () => {
    server = await startRealServer({ maxSandboxes: 1 });
  });
  after(async () => {
    await server?.close();
  });

  it('past maxSandboxes, create and execute are refused with RateLimitError and retryAfter', async () => {
    const first = await Sandbox.create({ baseUrl: server.url });
    for (const attempt of [() => Sandbox.create({ baseUrl: server.url }), () => new AirlockClient({ baseUrl: server.url }).execute({ agent_id: 'a', command: ['true'] })]) {
      await assert.rejects(attempt(), (err: unknown) => {
        assert.ok(err instanceof RateLimitError, String(err));
        assert.equal(err.status, 429);
        assert.equal(err.code, 'capacity_exceeded');
        assert.equal(err.retryAfter, 1);
        return true;
      });
    }
    await first.kill();
    const second = await Sandbox.create({ baseUrl: server.url });
    await second.kill();
  });
});

describe('SDK against a real server with a warm pool', { skip }, () => {
  let server: RealServer;
  before(async () => {
    const config = (await import('../src/config/config.ts')).loadConfig();
    server = await startRealServer({ pools: [{ runtime: 'namespace', image: config.defaultImage, size: 1, limits: {} }] });
  });
  after(async () => {
    await server?.close();
  });

  it('a create matching the pool class gets a ready sandbox that runs commands', async () => {
    let pooled: Sandbox | undefined;
    await eventually(async () => {
      const sandbox = await Sandbox.create({ baseUrl: server.url });
      if ((await sandbox.info()).pooled) pooled = sandbox;
      else await sandbox.kill();
      return pooled !== undefined;
    }, 10_000);
    assert.ok(pooled !== undefined, 'no pooled sandbox within 10 s');
    assert.equal((await pooled.commands.run('echo pooled')).stdout, 'pooled\n');
    await pooled.kill();
  });
});
