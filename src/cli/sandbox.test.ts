/**
 * `airlock sandbox …` end to end: the CLI in a child process against a real server (the app in
 * front of the real sandbox service) started by this test. Skipped, with the reason, where real
 * sandboxes can't run here (not root, no default image). The usage-error cases need no server.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { realServerSkipReason, startRealServer, type RealServer } from '../../sdk/testing/server.ts';
import { runCli } from './test-cli.ts';

describe('airlock sandbox: usage errors (exit 2)', () => {
  it('refuses malformed options and a missing command before contacting a server', async () => {
    const url = ['--url', 'http://127.0.0.1:9'];
    for (const [args, pattern] of [
      [['sandbox', 'create', ...url, '--memory', 'lots'], /--memory: "lots" is not a number/],
      [['sandbox', 'create', '--url', 'ftp://x'], /--url: "ftp:\/\/x" must be an http or https URL/],
      [['sandbox', 'exec', 's-1', ...url], /no command/],
      [['sandbox', 'exec', 's-1', ...url, '--env', 'BAD', '--', 'true'], /--env: expected KEY=VALUE/],
      [['sandbox', 'files', 'ls', 's-1', 'relative', ...url], /must be absolute/],
      [['sandbox', 'kill'], /missing required argument/],
    ] as const) {
      const run = await runCli([...args]);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, pattern);
    }
  });

  it('an unreachable server is exit 1 with a hint', async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const run = await runCli(['sandbox', 'ls'], { env: { AIRLOCK_URL: `http://127.0.0.1:${port}` } });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, new RegExp(`^airlock: cannot reach the server at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\); is \`airlock serve\` running\\?`));
  });
});

const skip = await realServerSkipReason();

describe('airlock sandbox against a real server', { skip }, () => {
  let server: RealServer;
  let url: string[];
  let id: string;
  let scratch: string;

  before(async () => {
    server = await startRealServer();
    url = ['--url', server.url];
    scratch = mkdtempSync(join(tmpdir(), 'airlock-cli-test-'));
  });
  after(async () => {
    await server?.close();
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  });

  it('create prints the id; ls shows it', async () => {
    const created = await runCli(['sandbox', 'create', ...url, '--metadata', 'who=cli', '--memory', '256', '--ttl', '300', '--env', 'FROM_CREATE=yes']);
    assert.equal(created.code, 0, created.stderr);
    id = created.stdout.trim();
    assert.match(id, /^[A-Za-z0-9][A-Za-z0-9_-]+$/);
    const table = await runCli(['sandbox', 'ls'], { env: { AIRLOCK_URL: server.url } });
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+RUNTIME\s+STATE/);
    assert.match(table.stdout, new RegExp(`${id}\\s+namespace\\s+running.*who=cli`));
    const json = await runCli(['sandbox', 'ls', ...url, '--json']);
    const listed = (JSON.parse(json.stdout) as Array<{ sandbox_id: string; limits: { memory_limit_mb: number } }>).find((s) => s.sandbox_id === id);
    assert.equal(listed?.limits.memory_limit_mb, 256);
  });

  it('exec streams the output and exits with the command exit code', async () => {
    const run = await runCli(['sandbox', 'exec', id, ...url, '--', 'sh', '-c', 'echo "out $FROM_CREATE"; echo err >&2; exit 7']);
    assert.equal(run.code, 7, run.stderr);
    assert.equal(run.stdout, 'out yes\n');
    assert.equal(run.stderr, 'err\n');
    const ok = await runCli(['sandbox', 'exec', id, ...url, '--env', 'X=1', '--cwd', '/tmp', '--', 'sh', '-c', 'echo $X $(pwd)']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, '1 /tmp\n');
  });

  it('exec forwards piped stdin, byte for byte', async () => {
    const input = Buffer.from([0x68, 0x69, 0x0a, 0xff, 0x00]);
    const run = await runCli(['sandbox', 'exec', id, ...url, '--', 'cat'], { input });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.stdoutBytes, input);
    const ignored = await runCli(['sandbox', 'exec', id, ...url, '--no-stdin', '--', 'cat'], { input: 'not forwarded' });
    assert.equal(ignored.stdout, '');
  });

  it('exec past --timeout: the command is killed, exit 137 and the reason on stderr', async () => {
    const run = await runCli(['sandbox', 'exec', id, ...url, '--timeout', '0.5', '--', 'sleep', '30']);
    assert.equal(run.code, 137, run.stderr);
    assert.match(run.stderr, /airlock: command ended: timeout/);
  });

  it('files put, ls and get round-trip a file', async () => {
    const local = join(scratch, 'in.bin');
    const content = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    writeFileSync(local, content);
    const put = await runCli(['sandbox', 'files', 'put', id, local, '/tmp/data.bin', ...url, '--mode', '0600']);
    assert.equal(put.code, 0, put.stderr);
    assert.equal(put.stdout, '/tmp/data.bin  256 bytes\n');
    const fromStdin = await runCli(['sandbox', 'files', 'put', id, '-', '/tmp/note.txt', ...url], { input: 'piped note\n' });
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    const ls = await runCli(['sandbox', 'files', 'ls', id, '/tmp', ...url]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /file\s+0600\s+256\s+\S+\s+data\.bin/);
    assert.match(ls.stdout, /note\.txt/);
    const toStdout = await runCli(['sandbox', 'files', 'get', id, '/tmp/data.bin', ...url]);
    assert.deepEqual(toStdout.stdoutBytes, content);
    const out = join(scratch, 'out.txt');
    const toFile = await runCli(['sandbox', 'files', 'get', id, '/tmp/note.txt', out, ...url]);
    assert.equal(toFile.code, 0, toFile.stderr);
    assert.equal(readFileSync(out, 'utf8'), 'piped note\n');
    const missing = await runCli(['sandbox', 'files', 'get', id, '/tmp/absent', ...url]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /\[file_not_found\]/);
  });

  it('files put in the old order (sandbox path first) says the new one; a missing LOCAL is named once', async () => {
    const local = join(scratch, 'old-order.txt');
    writeFileSync(local, 'x');
    const old = await runCli(['sandbox', 'files', 'put', id, '/tmp/x.txt', 'old-order.txt', ...url], { cwd: scratch });
    assert.equal(old.code, 2, old.stderr);
    assert.match(old.stderr, new RegExp(`files put takes ID LOCAL SANDBOX_PATH.*: airlock sandbox files put ${id} old-order\\.txt /tmp/x\\.txt`));
    const two = await runCli(['sandbox', 'files', 'put', id, '/tmp/x.txt', ...url]);
    assert.equal(two.code, 2, two.stderr);
    assert.match(two.stderr, new RegExp(`files put ${id} - /tmp/x\\.txt`));
    const absent = await runCli(['sandbox', 'files', 'put', id, './absent.txt', '/tmp/x.txt', ...url], { cwd: scratch });
    assert.equal(absent.code, 2, absent.stderr);
    assert.equal(absent.stderr, 'airlock: LOCAL: cannot read ./absent.txt: ENOENT: no such file or directory\n');
  });

  it('kill ends it; later commands fail with the server code (exit 1)', async () => {
    const kill = await runCli(['sandbox', 'kill', id, ...url]);
    assert.equal(kill.code, 0, kill.stderr);
    assert.equal(kill.stdout, `${id}\n`);
    const after = await runCli(['sandbox', 'exec', id, ...url, '--', 'true']);
    assert.equal(after.code, 1);
    assert.match(after.stderr, /^airlock: .*\[sandbox_not_running\]/);
    const again = await runCli(['sandbox', 'kill', id, ...url]);
    assert.equal(again.code, 1);
    assert.equal(again.stdout, '');
    assert.match(again.stderr, new RegExp(`^airlock: sandbox ${id} had already ended \\(killed at \\d{4}-\\d\\d-\\d\\dT[^)]+\\)\\n$`));
    const unknown = await runCli(['sandbox', 'kill', 's-unknown', ...url]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^airlock: no sandbox s-unknown \[sandbox_not_found\]/);
  });
});
