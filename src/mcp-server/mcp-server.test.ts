/**
 * `airlock mcp-server` driven as an MCP client would: the MCP SDK's own `Client` spawns the command
 * over stdio, pointed at a real airlock server by `AIRLOCK_URL`, and calls its tools; the tools run
 * in a real sandbox, which is gone once the client has closed. Skipped, with the reason, where this
 * host can't run sandboxes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { realServerSkipReason, startRealServer, type RealServer } from '../../sdk/testing/server.ts';

const skip = await realServerSkipReason();
const AIRLOCK = join(import.meta.dirname, '../../bin/airlock.js');

/** The text of a tool result's first content item. */
function textOf(result: CallToolResult): string {
  const first = result.content[0];
  assert.ok(first !== undefined && first.type === 'text', JSON.stringify(result));
  return first.text;
}

/** Polls `check` until it is true or `ms` pass. */
async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end && !check()) await new Promise((resolve) => setTimeout(resolve, 100));
  return check();
}

describe('airlock mcp-server flags', () => {
  it('a bad sandbox flag is a usage error (exit 2) before anything is served', () => {
    const run = spawnSync(process.execPath, [AIRLOCK, 'mcp-server', '--network', 'bogus'], { encoding: 'utf8', input: '', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', AIRLOCK_URL: 'http://127.0.0.1:1' } });
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /--network: unknown mode "bogus"/);
    assert.equal(run.stdout, '', 'nothing on the MCP channel');
  });
});

describe('airlock mcp-server over stdio', { skip }, () => {
  let server: RealServer;
  let client: Client;
  let transport: StdioClientTransport;
  const stderr: string[] = [];

  before(async () => {
    server = await startRealServer();
    transport = new StdioClientTransport({
      command: process.execPath,
      args: [AIRLOCK, 'mcp-server', '--metadata', 'suite=mcp-server', '--ttl', '300'],
      // Only what the command needs: the server comes from the environment, as a client's config would give it.
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', AIRLOCK_URL: server.url },
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
    client = new Client({ name: 'airlock-test', version: '1.0.0' });
    await client.connect(transport);
  });
  after(async () => {
    await client?.close().catch(() => undefined);
    await server?.close();
  });

  /** The sandboxes this test's server has made for the session. */
  const sessionSandboxes = () => server.service.list().filter((s) => s.metadata['suite'] === 'mcp-server');

  it('lists the four tools with input schemas, and creates no sandbox for that', async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ['exec', 'read_file', 'run_code', 'write_file']);
    const runCode = tools.find((t) => t.name === 'run_code');
    assert.deepEqual(runCode?.inputSchema.required?.sort(), ['code', 'language']);
    assert.match(runCode?.description ?? '', /isolated airlock sandbox/);
    assert.deepEqual(sessionSandboxes(), []);
  });

  it('write_file, exec, run_code and read_file share one sandbox', async () => {
    const written = (await client.callTool({ name: 'write_file', arguments: { path: '/tmp/in.txt', content: 'héllo\n' } })) as CallToolResult;
    assert.equal(written.isError ?? false, false, JSON.stringify(written));
    assert.equal(textOf(written), 'wrote 7 bytes to /tmp/in.txt');

    const exec = (await client.callTool({ name: 'exec', arguments: { command: 'cat in.txt; echo "$WHO" >&2', cwd: '/tmp', env: { WHO: 'me' } } })) as CallToolResult;
    assert.equal(exec.isError, false, JSON.stringify(exec));
    const out = exec.structuredContent as { sandbox_id: string; exit_code: number; stdout: string; stderr: string };
    assert.equal(out.exit_code, 0);
    assert.equal(out.stdout, 'héllo\n');
    assert.equal(out.stderr, 'me\n');
    assert.match(textOf(exec), /^exit code 0\n--- stdout ---\nhéllo\n/);

    const code = (await client.callTool({ name: 'run_code', arguments: { language: 'python', code: "open('/tmp/out.bin','wb').write(bytes([0,255]))\nprint(open('/tmp/in.txt').read().strip().upper())" } })) as CallToolResult;
    assert.equal(code.isError, false, JSON.stringify(code));
    assert.equal((code.structuredContent as { stdout: string }).stdout, 'HÉLLO\n');
    assert.equal((code.structuredContent as { sandbox_id: string }).sandbox_id, out.sandbox_id);

    const read = (await client.callTool({ name: 'read_file', arguments: { path: '/tmp/out.bin', encoding: 'base64' } })) as CallToolResult;
    assert.equal(textOf(read), 'AP8=');
    const sandboxes = sessionSandboxes();
    assert.equal(sandboxes.length, 1);
    assert.equal(sandboxes[0]?.sandbox_id, out.sandbox_id);
    assert.equal(sandboxes[0]?.state, 'running');
  });

  it('a failing command, a timeout and a refused path are tool errors that say why', async () => {
    const failed = (await client.callTool({ name: 'exec', arguments: { command: 'echo no >&2; exit 3' } })) as CallToolResult;
    assert.equal(failed.isError, true);
    assert.equal((failed.structuredContent as { exit_code: number }).exit_code, 3);
    assert.match(textOf(failed), /^exit code 3\n--- stderr ---\nno\n/);
    const slow = (await client.callTool({ name: 'run_code', arguments: { language: 'bash', code: 'sleep 30', timeout_seconds: 1 } })) as CallToolResult;
    assert.equal(slow.isError, true);
    assert.match(textOf(slow), /^ended: timeout/);
    const missing = (await client.callTool({ name: 'read_file', arguments: { path: '/tmp/nothing-here' } })) as CallToolResult;
    assert.equal(missing.isError, true);
    assert.match(textOf(missing), /nothing-here/);
    const relative = (await client.callTool({ name: 'read_file', arguments: { path: 'etc/passwd' } })) as CallToolResult;
    assert.equal(relative.isError, true);
  });

  it('a sandbox that ended on its own is replaced on the next call, and the call that found it ended says so', async () => {
    const [old] = sessionSandboxes();
    assert.ok(old !== undefined);
    await server.service.kill(old.sandbox_id);
    const found = (await client.callTool({ name: 'exec', arguments: { command: 'true' } })) as CallToolResult;
    assert.equal(found.isError, true);
    assert.match(textOf(found), /has ended .*; the next call starts a new sandbox, without this one's files/);
    const next = (await client.callTool({ name: 'exec', arguments: { command: 'ls /tmp' } })) as CallToolResult;
    assert.equal(next.isError, false, JSON.stringify(next));
    const sandboxId = (next.structuredContent as { sandbox_id: string }).sandbox_id;
    assert.notEqual(sandboxId, old.sandbox_id);
    assert.deepEqual(sessionSandboxes().filter((s) => s.state === 'running').map((s) => s.sandbox_id), [sandboxId]);
  });

  it('closing the client ends the sandbox', async () => {
    const sandbox = sessionSandboxes().find((s) => s.state === 'running');
    assert.ok(sandbox !== undefined);
    await client.close();
    const ended = await eventually(() => server.service.list().find((s) => s.sandbox_id === sandbox.sandbox_id)?.state === 'ended', 10_000);
    assert.ok(ended, `sandbox ${sandbox.sandbox_id} still running after the client left; stderr: ${stderr.join('')}`);
  });
});
