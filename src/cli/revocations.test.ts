import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { createLoopbackAccess } from '../admission/loopback-access.ts';
import { buildApp } from '../api/app.ts';
import { Revoker } from '../revocation/revoker.ts';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import { freshKey, tempStorePath } from '../store/test-helpers.ts';
import { FakeService } from '../../test/api/fake-service.ts';
import { runCli } from './test-cli.ts';

/** A listening app on loopback whose unsigned requests act as an operator (the development switch). */
async function server(t: TestContext) {
  const { path } = await tempStorePath(t);
  const store = await SqliteStore.open({ path });
  const service = new FakeService();
  const revoker = new Revoker({ store: store.revocations, endAgent: (id) => service.endAgent(id), controllerKey: freshKey().privateKey });
  const app = buildApp({ service, access: await createLoopbackAccess({ store }), revoker });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(async () => {
    await app.close();
    await store.close();
  });
  return { url, service, dir: dirname(dirname(path)) };
}

describe('airlock revoke, unrevoke, revocations', () => {
  it('revokes (ending the agent’s sandboxes), lists, exports and unrevokes', async (t) => {
    const { url, service, dir } = await server(t);
    const s = await service.create({ runtime: 'namespace', limits: {}, metadata: {}, env: {}, mounts: [], agentId: 'alice' });
    const revoke = await runCli(['revoke', 'alice', '--reason', 'leaked key', '--url', url]);
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.match(revoke.stdout, /alice revoked; ended 1 sandbox/);
    assert.equal(service.get(s.sandbox_id).end_reason, 'revoked');
    const ls = await runCli(['revocations', 'ls', '--url', url]);
    assert.match(ls.stdout, /alice .*leaked key/);
    const exported = await runCli(['revocations', 'export', '--url', url]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(JSON.parse(exported.stdout).list.revocations[0].agent_id, 'alice');
    // Importing its own list: not a trusted issuer here, named as such (exit 1, the server's refusal).
    const file = join(dir, 'list.json');
    await writeFile(file, exported.stdout);
    const imported = await runCli(['revocations', 'import', file, '--url', url]);
    assert.equal(imported.code, 1);
    assert.match(imported.stderr, /untrusted_issuer/);
    const unrevoke = await runCli(['unrevoke', 'alice', '--url', url]);
    assert.deepEqual([unrevoke.code, unrevoke.stdout], [0, 'alice unrevoked\n']);
    const again = await runCli(['unrevoke', 'alice', '--url', url]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /agent_not_revoked/);
  });

  it('refuses bad input with exit 2 before asking the server', async (t) => {
    const dir = (await tempStorePath(t)).dir;
    const notJson = join(dir, 'bad.json');
    await writeFile(notJson, '{"list":');
    const cases: [string[], RegExp][] = [
      [['revoke', 'alice'], /--reason/],
      [['revoke', 'alice', '--reason', '  '], /--reason: give a reason/],
      [['revoke', '../etc', '--reason', 'x'], /<agent>: ".*" is not an agent id/],
      [['unrevoke', 'a b'], /<agent>/],
      [['revocations', 'import', join(dir, 'missing.json')], /<file>: .*ENOENT/],
      [['revocations', 'import', notJson], /<file>: not JSON/],
      [['revoke', '--reason', 'x'], /missing required argument/],
    ];
    for (const [args, message] of cases) {
      const run = await runCli([...args, '--url', 'http://127.0.0.1:9']);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message, args.join(' '));
    }
  });
});
