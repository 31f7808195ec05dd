/**
 * The MCP proxy's commands as an operator and a local client use them: `airlock mcp ls`,
 * `mcp approve` (the server started in its sandbox, its tools pinned), `mcp pins`, and
 * `mcp-proxy --stdio` driven by the SDK's stdio client. Real CLI processes, real sandboxes.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CLI_ENTRY, REPO_ROOT, runCli } from '../../src/cli/test-cli.ts';
import { skipReason } from '../integration/environment.ts';
import { isolatedConfig, removeIsolatedState, writeConfigFile } from '../security/lib/runtime.ts';
import { sandboxedFixture } from './lib/sandboxed-fixture.ts';

const base = isolatedConfig();
const config = { ...base, mcp: { ...base.mcp, servers: { calc: sandboxedFixture('calculator') } } };
const file = writeConfigFile(config);
const reason = skipReason(base)('namespace');

after(() => {
  const problems = removeIsolatedState(base);
  if (problems.length > 0) process.stderr.write(`mcp cli test cleanup: ${problems.join('; ')}\n`);
});

describe('airlock mcp and mcp-proxy', { skip: reason }, () => {
  test('mcp ls, approve, pins: an operator approves a server and sees its pins', async () => {
    const before = await runCli(['mcp', 'ls', '--json'], { config: file });
    assert.equal(before.code, 0, before.stderr);
    assert.deepEqual((JSON.parse(before.stdout) as { name: string; approved_tools: number }[]).map((r) => [r.name, r.approved_tools]), [['calc', 0]]);
    const approved = await runCli(['mcp', 'approve', 'calc'], { config: file });
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, /^calculate {2}sha256:[0-9a-f]{64}$/m);
    assert.match(approved.stdout, /pinned 1 tool\(s\) of calc; policy hash sha256:/);
    const pins = await runCli(['mcp', 'pins', '--json'], { config: file });
    assert.equal(pins.code, 0, pins.stderr);
    const parsed = JSON.parse(pins.stdout) as Record<string, { approved_by: string; tools: Record<string, string> }>;
    assert.equal(parsed['calc']?.approved_by, 'root');
    assert.match(parsed['calc']?.tools['calculate'] ?? '', /^sha256:/);
    const unknown = await runCli(['mcp', 'approve', 'nosuch'], { config: file });
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /no server named "nosuch"/);
  });

  test('mcp-proxy --stdio serves a local client as the unix user running it', async () => {
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI_ENTRY, '--config', file, 'mcp-proxy', '--stdio', '--log-level', 'error'], cwd: REPO_ROOT, stderr: 'pipe' });
    const client = new Client({ name: 'cli-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ['calc__calculate']);
      const result = await client.callTool({ name: 'calc__calculate', arguments: { expression: '6 * 7' } });
      assert.deepEqual(result.content, [{ type: 'text', text: '42' }]);
      assert.ok(result._meta?.['airlock/untrusted'] !== undefined);
    } finally {
      await client.close();
    }
  });

  test('mcp-proxy refuses a listener beyond loopback (it speaks plain HTTP)', async () => {
    const run = await runCli(['mcp-proxy', '--host', '0.0.0.0'], { config: file, timeoutMs: 20_000 });
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /loopback only/);
  });
});
