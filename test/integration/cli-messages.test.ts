/**
 * What the CLI says when a user gets something wrong, on both runtimes, against a real
 * `airlock serve` on a unix socket of its own: a command that doesn't exist reads the same
 * (`airlock: CMD: No such file or directory`, exit 127) in a one-shot and in a persistent sandbox,
 * naming no internal tool; a file over the files cap gives the cap and names the path once;
 * killing an ended sandbox says it had ended.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../../src/cli/test-cli.ts';
import { skipReason } from './environment.ts';
import { socketServer } from './serve-on-socket.ts';

const server = socketServer();
const base = server.config;
const configFile = server.configFile;
const reason = skipReason(base);
const env = { AIRLOCK_URL: `unix:${server.socket}` };

before(async () => {
  if (reason('namespace') === false) await server.start();
});

after(async () => {
  const problems = await server.stop();
  if (problems.length > 0) process.stderr.write(`cli messages test cleanup: ${problems.join('; ')}\n`);
});

const cli = (args: string[]) => runCli(args, { config: configFile, env });

for (const runtime of ['namespace', 'gvisor'] as const) {
  describe(`CLI messages on ${runtime}`, { skip: reason(runtime) }, () => {
    test('a missing command reads the same in a one-shot and a persistent sandbox', async () => {
      const oneShot = await cli(['run', '--runtime', runtime, '--', 'nosuchcmd']);
      assert.equal(oneShot.code, 127);
      assert.equal(oneShot.stderr, 'airlock: nosuchcmd: No such file or directory\n');
      const created = await cli(['sandbox', 'create', '--runtime', runtime]);
      const id = created.stdout.trim();
      assert.equal(created.code, 0, created.stderr);
      try {
        const exec = await cli(['sandbox', 'exec', id, '--', 'nosuchcmd']);
        assert.equal(exec.code, 127);
        assert.equal(exec.stderr, 'airlock: nosuchcmd: No such file or directory\n');
      } finally {
        await cli(['sandbox', 'kill', id]);
      }
    });

    test('a file over the cap gives the cap and names the path once; killing an ended sandbox says it had ended', async () => {
      const id = (await cli(['sandbox', 'create', '--runtime', runtime, '--scratch', '64'])).stdout.trim();
      const big = base.service.fileMaxBytes + 1;
      assert.equal((await cli(['sandbox', 'exec', id, '--', 'sh', '-c', `head -c ${big} /dev/zero > /tmp/big`])).code, 0);
      const get = await cli(['sandbox', 'files', 'get', id, '/tmp/big', join(base.stateDir, 'got')]);
      assert.equal(get.code, 1);
      assert.equal(get.stderr, `airlock: /tmp/big: ${big} bytes exceed the limit of ${base.service.fileMaxBytes} [payload_too_large]\n`);
      assert.equal((await cli(['sandbox', 'kill', id])).code, 0);
      const again = await cli(['sandbox', 'kill', id]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, new RegExp(`^airlock: sandbox ${id} had already ended \\(killed at `));
    });
  });
}
