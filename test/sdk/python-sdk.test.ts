/**
 * The Python SDK (sdk/python/) against a real `airlock serve`: a spawned server on this file's own
 * state, cgroups, uids and subnet, listening on a private unix socket (root there: the operator)
 * and on loopback TCP — HTTPS with a throwaway certificate where openssl is installed — where every
 * request must be signed. A principal `py-sdk` (role agent) is
 * registered with a fresh key; pytest (sdk/python/tests) then runs with AIRLOCK_URL naming the
 * socket and AIRLOCK_TEST_TCP_URL / AIRLOCK_TEST_KEY for the signed cases, and this test fails with
 * pytest's output when pytest fails. The wheel's packaging test is one of those pytest cases.
 *
 * Python, httpx, cryptography, pytest and python3-build are Debian packages `./scripts/setup.sh test`
 * installs (scripts/test-packages.txt): when they are missing the test fails saying so, since a
 * skip would hide a broken SDK.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI_ENTRY, runCli } from '../../src/cli/test-cli.ts';
import { skipReason } from '../integration/environment.ts';
import { isolatedConfig, removeIsolatedState, writeConfigFile } from '../security/lib/runtime.ts';
import { stretched } from '../security/lib/emulation.ts';
import { selfSignedCert } from '../security/lib/self-signed-cert.ts';
import { findExecutable } from '../../src/host/which.ts';

/** The Python modules the SDK and its tests need, and the Debian package of each. */
const MODULES: Record<string, string> = { httpx: 'python3-httpx', cryptography: 'python3-cryptography', pytest: 'python3-pytest', build: 'python3-build', ensurepip: 'python3-venv' };
/** Debian's interpreter (where setup.sh's packages land) first, then whatever `python3` is on PATH. */
const CANDIDATES = ['/usr/bin/python3', 'python3'];
/** Concurrent sandboxes the server allows: small, so the 429 case can fill it. */
const MAX_SANDBOXES = 4;
const AGENT = 'py-sdk';
/** An approver principal, for the case that approves what policy sent to a human and retries. */
const APPROVER = 'py-sdk-approver';

/** The first interpreter with every module, or a description of what each lacks. */
function findPython(): { python: string } | { problem: string } {
  const problems: string[] = [];
  const probe = `import importlib.util,sys; print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))`;
  for (const python of CANDIDATES) {
    const run = spawnSync(python, ['-c', probe, ...Object.keys(MODULES)], { encoding: 'utf8' });
    if (run.error !== undefined || run.status !== 0) {
      problems.push(`${python}: ${run.error?.message ?? run.stderr.trim()}`);
      continue;
    }
    const missing = run.stdout.trim().split(/\s+/).filter((m) => m !== '');
    if (missing.length === 0) return { python };
    problems.push(`${python} lacks ${missing.map((m) => `${m} (${MODULES[m]})`).join(', ')}`);
  }
  return { problem: `no Python with the SDK's test dependencies: ${problems.join('; ')}. Run ./scripts/setup.sh test (it installs the Debian packages in scripts/test-packages.txt).` };
}

const config = isolatedConfig({ service: { maxSandboxes: MAX_SANDBOXES } });
// HTTPS on TCP, as any controller off loopback must be: the SDK's CA handling and https @target-uri.
const tls = findExecutable('openssl') === undefined ? undefined : selfSignedCert();
if (tls !== undefined) config.service.tls = { certFile: tls.certFile, keyFile: tls.keyFile };
const socketPath = join(config.stateDir, 'api', 'api.sock');
// Root-only socket in this test's state directory; unsigned TCP is refused (signatures required).
config.service.socket = { path: socketPath, group: 'root', mode: 0o600 };
const configFile = writeConfigFile(config);
const reason = skipReason(config)('namespace');
after(() => {
  tls?.remove();
  const problems = removeIsolatedState(config);
  assert.deepEqual(problems, [], 'the test left state behind');
});

async function startServer(): Promise<{ child: ChildProcess; url: string; log: () => string }> {
  const child = spawn(process.execPath, ['bin/airlock.js', 'serve', '--port', '0', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  for (let i = 0; i < stretched(600); i++) {
    const match = /"address":"(https?:\/\/[^"]+)"/.exec(log);
    if (match?.[1] !== undefined && existsSync(socketPath)) return { child, url: match[1], log: () => log };
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`server did not start:\n${log}`);
}

/** Runs pytest to its end; its output is collected (and shown when it fails). */
function pytest(python: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  // Its temporary files (the wheel, the venv) live in this test's state directory, removed with it.
  const args = ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-rs', '--durations=8', '--basetemp', join(config.stateDir, 'pytest'), 'sdk/python/tests'];
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

test('Python SDK: pytest against a real airlock serve (unix socket, signed TCP, both runtimes)', { skip: reason, timeout: stretched(300_000) }, async (t) => {
  const found = findPython();
  assert.ok('python' in found, 'problem' in found ? found.problem : '');
  const keyPrefix = join(config.stateDir, 'py-sdk-key');
  const gen = await runCli(['keys', 'gen', '--out', keyPrefix]);
  assert.equal(gen.code, 0, gen.stderr);
  const added = await runCli(['principals', 'add', AGENT, '--role', 'agent', '--key', `${keyPrefix}.pub`], { config: configFile });
  assert.equal(added.code, 0, added.stdout + added.stderr);
  const approverPrefix = join(config.stateDir, 'py-sdk-approver-key');
  assert.equal((await runCli(['keys', 'gen', '--out', approverPrefix])).code, 0);
  const approver = await runCli(['principals', 'add', APPROVER, '--role', 'approver', '--key', `${approverPrefix}.pub`], { config: configFile });
  assert.equal(approver.code, 0, approver.stdout + approver.stderr);
  const server = await startServer();
  try {
    const run = await pytest(found.python, {
      AIRLOCK_URL: `unix://${socketPath}`,
      AIRLOCK_SOCKET: '',
      AIRLOCK_KEY: '',
      AIRLOCK_TEST_TCP_URL: server.url,
      AIRLOCK_TEST_KEY: keyPrefix,
      AIRLOCK_TEST_AGENT: AGENT,
      AIRLOCK_TEST_APPROVER_KEY: approverPrefix,
      AIRLOCK_TEST_CLI: `${process.execPath} ${CLI_ENTRY}`,
      // The test certificate is the CA bundle of every https connection pytest makes (the SDK reads it as ssl does).
      ...(tls === undefined ? {} : { SSL_CERT_FILE: tls.certFile, NODE_EXTRA_CA_CERTS: tls.certFile }),
      AIRLOCK_TEST_MAX_SANDBOXES: String(MAX_SANDBOXES),
      PYTHONDONTWRITEBYTECODE: '1',
    });
    assert.equal(run.code, 0, `pytest failed:\n${run.output}`);
    // Skips are reported (-rs) and allowed only for a runtime this host lacks.
    const skips = run.output.split('\n').filter((line) => line.startsWith('SKIPPED'));
    for (const line of skips) assert.match(line, /runtime .* is not available on this server|openssl is not installed/, `unexpected skip: ${line}`);
    assert.match(run.output, / passed/);
    // The summary and the slowest cases, for whoever watches the suite's time.
    t.diagnostic(run.output.trim().split('\n').slice(-14).join('\n'));
  } finally {
    server.child.kill('SIGTERM');
    await new Promise((resolve) => server.child.once('close', resolve));
  }
  assert.equal(server.child.exitCode, 0, `the server did not stop cleanly:\n${server.log().slice(-4000)}`);
});
