/**
 * Every shell example of README.md runs as written, against one real `airlock serve` with real
 * sandboxes (the convention for lines that are not run is in readme-examples.ts).
 *
 * The test is the reader: it works in an empty folder, runs the README's own lines that make the
 * files the examples use (`./data`, `job.sh`, `agent.py`), configures the `inference` service as
 * the README's JSON shows (pointed at a small HTTP server of its own on the host's loopback) and
 * starts the server with the README's `airlock serve` line. Isolation from a live deployment is the
 * only thing it changes: its own configuration (AIRLOCK_CONFIG: state directory, cgroup parent, uid
 * range, subnet), its own socket in AIRLOCK_URL (for `airlock run` only once the README exports a
 * server, as a reader's shell would keep it), and in the text of the examples the default socket
 * path, `localhost:8002` and `/var/lib/airlock/store` become the test server's, and the host
 * service on port 8080 (`host.airlock.internal:8080`) the test's own. An example whose
 * runtime or network destination this host lacks is skipped with the reason.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AirlockConfig } from '../../src/config/config.ts';
import { CLI_ENTRY, REPO_ROOT } from '../../src/cli/test-cli.ts';
import { storePath } from '../../src/store/index.ts';
import { skipReason } from '../integration/environment.ts';
import { stretched } from '../security/lib/emulation.ts';
import { isolatedConfig, writeConfigFile } from '../security/lib/isolated-config.ts';
import { removeIsolatedState } from '../security/lib/runtime.ts';
import { exampleName, readmeExamples, type ReadmeExample } from './readme-examples.ts';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const examples = readmeExamples(README);
const base = isolatedConfig();
// The reader's folder: outside the state directory, which is never grantable.
const work = mkdtempSync(join(tmpdir(), 'airlock-readme-'));
const socket = join(base.stateDir, 'api.sock');
const reason = skipReason(base)('namespace');

/** The `inference` service the README configures, as JSON (`"network": {"services": {…}}`). */
function readmeServiceConfig(markdown: string): AirlockConfig['network']['services'] {
  const block = /```json\n([^`]*"services"[^`]*"inference"[^`]*)```/.exec(markdown)?.[1];
  assert.ok(block !== undefined, 'README.md shows no JSON configuring the "inference" service');
  const parsed = JSON.parse(`{${block.trim().replace(/,$/, '')}}`) as { network?: { services?: AirlockConfig['network']['services'] } };
  const services = parsed.network?.services;
  assert.ok(services?.['inference'] !== undefined, `README.md's inference JSON has no network.services.inference: ${block}`);
  return services;
}

/** Why an example can't run on this host, or undefined. */
async function hostLacks(text: string): Promise<string | undefined> {
  if (/--runtime gvisor/.test(text)) {
    const why = skipReason(base)('gvisor');
    if (why !== false) return why;
  }
  // Why only names: these examples reach public hosts, which a test host may not resolve or reach.
  for (const host of ['pypi.org', 'example.com']) {
    if (!text.includes(host) || /sandbox create|allowed_hosts/.test(text)) continue;
    try {
      await lookup(host);
    } catch (err) {
      return `this host can't resolve ${host} (${(err as Error).message})`;
    }
  }
  return undefined;
}

let server: ChildProcess | undefined;
let serverLog = '';
let port = 0;
let inference: Server | undefined;
let inferencePort = 0;
let lastSandbox: string | undefined;
let env: Record<string, string> = {};

/** The example's text with the isolation applied (see the module comment), and placeholders filled. */
function localized(text: string): string {
  let out = text
    .replaceAll('/run/airlock/api.sock', socket)
    .replaceAll('localhost:8002', `localhost:${port}`)
    .replaceAll('host.airlock.internal:8080', `host.airlock.internal:${inferencePort}`)
    .replaceAll('/var/lib/airlock/store', join(storePath(base), '..'));
  if (out.includes('s-…')) {
    assert.ok(lastSandbox !== undefined, 'uses s-… but no earlier `airlock sandbox create` printed an id');
    out = out.replaceAll('s-…', lastSandbox);
  }
  return out;
}

/** Runs one example in the reader's folder; its exit code and everything it printed. */
/** Variables an `export NAME=VALUE` example set: the reader's shell keeps them for the examples after it. */
const exported: Record<string, string> = {};

/**
 * The environment of one example. `airlock run` goes through a server only when one is named, so
 * it gets the test's AIRLOCK_URL (which stands in for the default socket the other commands find)
 * only once the README itself has exported a server for it.
 */
function envFor(text: string): Record<string, string> {
  const named = /(^|[|;&]\s*)airlock run\b/.test(text) ? { AIRLOCK_URL: '' } : {};
  return { ...env, ...named, ...exported };
}

function runExample(text: string, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  const exportLine = /^export ([A-Z_][A-Z0-9_]*)=(\S+)$/.exec(text);
  if (exportLine !== null) exported[exportLine[1] as string] = exportLine[2] as string;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', text], { cwd: work, env: envFor(text), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const isServe = (e: ReadmeExample): boolean => /^airlock serve(\s|$)/.test(e.text);

before(async () => {
  if (reason !== false) return;
  chmodSync(work, 0o755);
  const bin = join(base.stateDir, 'bin');
  mkdirSync(bin);
  // The set-up's link, to this checkout: `airlock` on the PATH as the README says.
  symlinkSync(CLI_ENTRY, join(bin, 'airlock'));
  inference = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ object: 'list', data: [{ id: 'test-model' }], path: req.url }));
  });
  await new Promise<void>((resolve) => inference?.listen(0, '127.0.0.1', resolve));
  const services = readmeServiceConfig(README);
  const address = inference.address();
  assert.ok(address !== null && typeof address === 'object');
  inferencePort = address.port;
  for (const service of Object.values(services)) service.url = service.url.replace(/\/\/[^/]+/, `//127.0.0.1:${address.port}`);
  const config: AirlockConfig = {
    ...base,
    service: { ...base.service, socket: { ...base.service.socket, path: socket } },
    network: { ...base.network, services },
  };
  const configFile = writeConfigFile(config);
  env = { PATH: `${bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: work, LANG: 'C.UTF-8', AIRLOCK_CONFIG: configFile, AIRLOCK_URL: `unix:${socket}` };

  const serve = examples.find(isServe);
  assert.ok(serve !== undefined, 'README.md has no `airlock serve` example');
  // The README's own line, plus what isolates it: an ephemeral port (its configuration comes from AIRLOCK_CONFIG).
  server = spawn('bash', ['-c', `exec ${serve.text.replace(/\s+#\s.*$/, '')} --port 0`], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout?.on('data', (d: Buffer) => (serverLog += d.toString()));
  server.stderr?.on('data', (d: Buffer) => (serverLog += d.toString()));
  for (let i = 0; i < stretched(400) && port === 0; i++) {
    const match = /"address":"http:\/\/[^"]+:(\d+)"/.exec(serverLog);
    if (match?.[1] !== undefined) port = Number(match[1]);
    else if (server.exitCode !== null) break;
    else await sleep(50);
  }
  assert.ok(port !== 0, `README:${serve.line} airlock serve did not start:\n${serverLog}`);
});

after(async () => {
  if (server !== undefined && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((resolve) => server?.once('close', resolve));
  }
  inference?.close();
  rmSync(work, { recursive: true, force: true });
  const problems = removeIsolatedState(base);
  if (problems.length > 0) process.stderr.write(`README test cleanup: ${problems.join('; ')}\n`);
});

describe('README.md shell examples', { skip: reason }, () => {
  for (const example of examples) {
    const name = exampleName(example);
    if (example.notRun !== undefined) {
      test(name, { skip: `not run: ${example.notRun}` }, () => {});
      continue;
    }
    if (isServe(example)) {
      test(name, () => assert.ok(port !== 0, 'the server every other example talks to is running'));
      continue;
    }
    test(name, { timeout: stretched(120_000) }, async (t) => {
      const lacks = await hostLacks(example.text);
      if (lacks !== undefined) return t.skip(lacks);
      const { code, output } = await runExample(localized(example.text), stretched(100_000));
      assert.equal(code, 0, `${name}\nexited ${String(code)}:\n${output}`);
      if (/^airlock sandbox create/.test(example.text)) lastSandbox = /\bs-[\w-]+/.exec(output)?.[0] ?? lastSandbox;
    });
  }
});
