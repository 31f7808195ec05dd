// The scanner over the fixture corpus, with the definitions and outputs taken from the fixture
// servers themselves through the official SDK client over stdio: every malicious definition and
// output is flagged at its expected severity, and the benign servers raise nothing at the
// blocking threshold (the false-positive count is reported and asserted).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { loadScanner, highestSeverity, severityRank } from '../../src/mcp/scan/index.ts';
import type { ScanFinding, ScanSeverity, Scanner, ToolDefinition } from '../../src/mcp/scan/index.ts';
import { FIXTURES } from './fixtures/catalog.ts';
import type { Fixture } from './fixtures/catalog.ts';
import { connectFixture } from './fixtures/lib/client.ts';

/** The proxy's default blocking threshold (config `scan.blockSeverity`). */
const BLOCK: ScanSeverity = 'HIGH';

interface Listed { fixture: Fixture; client: Client; tools: ToolDefinition[] }

const state: { scanner?: Scanner; servers: Listed[] } = { servers: [] };

/** A tools/list entry as the scanner's ToolDefinition. */
function toDefinition(server: string, tool: { name: string; description?: string | undefined; inputSchema: unknown; annotations?: unknown }): ToolDefinition {
  const definition: ToolDefinition = { server, name: tool.name, inputSchema: tool.inputSchema };
  if (tool.description !== undefined) definition.description = tool.description;
  if (tool.annotations !== undefined) definition.annotations = tool.annotations;
  return definition;
}

/** One line per finding, for failure messages and diagnostics. */
function show(findings: readonly ScanFinding[]): string {
  return findings.map((finding) => `${finding.severity} ${finding.rule} @${finding.where}: ${finding.excerpt}`).join('\n');
}

before(async () => {
  state.scanner = await loadScanner();
  for (const fixture of FIXTURES.filter((candidate) => candidate.kind !== 'bad-input')) {
    const client = await connectFixture(fixture);
    const { tools } = await client.listTools();
    state.servers.push({ fixture, client, tools: tools.map((tool) => toDefinition(fixture.name, tool)) });
  }
});

after(async () => {
  for (const server of state.servers) await server.client.close();
});

test('every malicious definition is flagged at its expected severity', (t) => {
  const scanner = state.scanner!;
  const everyone = state.servers.flatMap((server) => server.tools);
  const summary: string[] = [];
  for (const { fixture, tools } of state.servers.filter((server) => server.fixture.kind === 'malicious')) {
    for (const [name, expected] of Object.entries(fixture.definitions ?? {})) {
      const tool = tools.find((candidate) => candidate.name === name);
      assert.ok(tool !== undefined, `${fixture.name} lists no ${name}`);
      const findings = scanner.definition(tool, everyone.filter((other) => other.server !== fixture.name));
      const highest = highestSeverity(findings);
      summary.push(`${fixture.name}/${name} ${highest ?? 'none'} (${findings.length})`);
      assert.ok(highest !== null && severityRank(highest) >= severityRank(expected), `${fixture.name}/${name}: expected ${expected}, got ${highest ?? 'nothing'}\n${show(findings)}`);
    }
  }
  t.diagnostic(`malicious definitions: ${summary.join(', ')}`);
});

test('the rug pull is flagged once it turns: clean on the first list, blocked after list_changed', async () => {
  const scanner = state.scanner!;
  const rug = state.servers.find((server) => server.fixture.afterFirstCall !== undefined)!;
  const turn = rug.fixture.afterFirstCall!;
  const others = state.servers.filter((server) => server.fixture.kind === 'benign').flatMap((server) => server.tools);
  for (const tool of rug.tools) {
    const highest = highestSeverity(scanner.definition(tool, others));
    assert.ok(highest === null || severityRank(highest) < severityRank(BLOCK), `${tool.name} already flagged before the turn`);
  }
  const changed = new Promise<void>((resolve) => rug.client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));
  await rug.client.callTool({ name: turn.tool, arguments: turn.arguments });
  await changed;
  const relisted = (await rug.client.listTools()).tools.map((tool) => toDefinition(rug.fixture.name, tool));
  for (const [name, expected] of Object.entries(turn.definitions)) {
    const findings = scanner.definition(relisted.find((tool) => tool.name === name)!, others);
    const highest = highestSeverity(findings);
    assert.ok(highest !== null && severityRank(highest) >= severityRank(expected), `after the turn ${name}: expected ${expected}, got ${highest ?? 'nothing'}`);
  }
});

test('malicious outputs are flagged and their credentials redacted', async () => {
  const scanner = state.scanner!;
  for (const { fixture, client } of state.servers) {
    for (const call of fixture.outputs ?? []) {
      const result = await client.callTool({ name: call.tool, arguments: call.arguments });
      const { findings, redacted } = scanner.output(fixture.name, call.tool, result);
      const highest = highestSeverity(findings);
      assert.ok(highest !== null && severityRank(highest) >= severityRank(call.severity), `${fixture.name}/${call.tool}: expected ${call.severity}, got ${highest ?? 'nothing'}\n${show(findings)}`);
      if (call.redacts === true) {
        const before = JSON.stringify(result);
        const afterText = JSON.stringify(redacted);
        for (const shape of [/AKIA[A-Z0-9]{16}/, /ghp_[A-Za-z0-9]{36}/, /BEGIN PRIVATE KEY-----\\n[A-Za-z0-9+/]/, /wJalrXUtnFEMI/]) {
          assert.match(before, shape, 'the fixture output carries the credential');
          assert.doesNotMatch(afterText, shape, `redacted output still carries ${String(shape)}`);
        }
        assert.match(afterText, /\[REDACTED:github-token\]/);
        // Redaction keeps the shape: same content blocks, same non-credential text.
        assert.match(afterText, /Build fails on main/);
      }
      // No excerpt carries a credential either.
      assert.doesNotMatch(show(findings), /AKIA[A-Z0-9]{16}|ghp_[A-Za-z0-9]{36}/);
    }
  }
});

test('benign servers: no finding at the blocking threshold (false positives reported)', async (t) => {
  const scanner = state.scanner!;
  const benign = state.servers.filter((server) => server.fixture.kind === 'benign');
  const everyone = benign.flatMap((server) => server.tools);
  const all: ScanFinding[] = [];
  let definitions = 0;
  let outputs = 0;
  for (const { fixture, client, tools } of benign) {
    for (const tool of tools) {
      definitions += 1;
      all.push(...scanner.definition(tool, everyone.filter((other) => other.server !== fixture.name)).map((finding) => ({ ...finding, where: `${fixture.name}/${tool.name} ${finding.where}` })));
    }
    for (const call of fixture.cleanCalls ?? []) {
      outputs += 1;
      const result = await client.callTool({ name: call.tool, arguments: call.arguments });
      const { findings, redacted } = scanner.output(fixture.name, call.tool, result);
      all.push(...findings.map((finding) => ({ ...finding, where: `${fixture.name}/${call.tool} output ${finding.where}` })));
      assert.deepEqual(redacted, result, `${fixture.name}/${call.tool}: a benign output was altered`);
    }
  }
  const blocking = all.filter((finding) => severityRank(finding.severity) >= severityRank(BLOCK));
  t.diagnostic(`benign corpus: ${benign.length} servers, ${definitions} definitions, ${outputs} outputs; findings at or above ${BLOCK}: ${blocking.length}; below: ${all.length - blocking.length}`);
  assert.equal(blocking.length, 0, `false positives at ${BLOCK}:\n${show(blocking)}`);
  assert.equal(all.length, 0, `findings below the threshold on benign servers:\n${show(all)}`);
});
