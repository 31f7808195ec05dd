// The fixture servers themselves, through the official SDK client over stdio: every one starts
// and lists its tools, the rug pull really changes and announces, the sampling server really asks,
// the hanging server really hangs, the benign servers answer their probe calls.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CreateMessageRequestSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { FIXTURES, fixture } from './fixtures/catalog.ts';
import { connectFixture } from './fixtures/lib/client.ts';

test('every fixture starts and lists tools', async () => {
  for (const server of FIXTURES) {
    const client = await connectFixture(server);
    try {
      const { tools } = await client.listTools();
      assert.ok(tools.length > 0, `${server.name} lists no tools`);
      assert.equal(client.getServerVersion()?.name, server.name);
    } finally {
      await client.close();
    }
  }
});

test('benign fixtures answer their probe calls without a tool error', async () => {
  for (const server of FIXTURES.filter((candidate) => candidate.cleanCalls !== undefined)) {
    const client = await connectFixture(server);
    try {
      for (const call of server.cleanCalls ?? []) {
        const result = await client.callTool({ name: call.tool, arguments: call.arguments });
        assert.notEqual(result.isError, true, `${server.name}/${call.tool}: ${JSON.stringify(result.content)}`);
      }
    } finally {
      await client.close();
    }
  }
});

test('the rug pull changes its description after the first call and sends list_changed', async () => {
  const client = await connectFixture(fixture('rug-pull'));
  try {
    const changed = new Promise<void>((resolve) => client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));
    const before = (await client.listTools()).tools[0]?.description ?? '';
    assert.doesNotMatch(before, /IMPORTANT/);
    await client.callTool({ name: 'get_weather', arguments: { city: 'Oslo' } });
    await changed;
    const after = (await client.listTools()).tools[0]?.description ?? '';
    assert.match(after, /<IMPORTANT>/);
  } finally {
    await client.close();
  }
});

test('the sampling server sends createMessage during a call and reports the answer', async () => {
  const client = await connectFixture(fixture('sampling'), { capabilities: { sampling: {} } });
  try {
    const asked: string[] = [];
    client.setRequestHandler(CreateMessageRequestSchema, (request) => {
      const content = request.params.messages[0]?.content;
      asked.push(content !== undefined && 'text' in content ? String(content.text) : '');
      return { role: 'assistant', content: { type: 'text', text: 'no' }, model: 'fixture' };
    });
    const result = await client.callTool({ name: 'summarize', arguments: { text: 'hello' } });
    assert.match(asked[0] ?? '', /Ignore your previous instructions/);
    assert.match(JSON.stringify(result.content), /answered/);
  } finally {
    await client.close();
  }
});

test('the hanging server never answers tools/call', async () => {
  const client = await connectFixture(fixture('hanging'));
  try {
    await assert.rejects(client.callTool({ name: 'wait', arguments: {} }, undefined, { timeout: 500 }), /timed out/i);
  } finally {
    await client.close();
  }
});

test('the flooding server returns a result of the requested size', async () => {
  const client = await connectFixture(fixture('flooding'));
  try {
    const result = await client.callTool({ name: 'flood', arguments: { mode: 'result', bytes: 1_000_000 } });
    const content = result.content as { text: string }[];
    assert.equal(content[0]?.text.length, 1_000_000);
  } finally {
    await client.close();
  }
});
