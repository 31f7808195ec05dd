import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { parseConfig } from '../config/config.ts';
import { AuditLog } from '../audit/log.ts';
import { openStore } from '../store/index.ts';
import { runCli } from './test-cli.ts';

/** A state directory with its config file, and an `airlock --config …` runner for it. */
async function setup(t: TestContext) {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-contracts-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, 'config.json');
  await writeFile(config, JSON.stringify({ stateDir: join(dir, 'state') }));
  return { dir, airlock: (...args: string[]) => runCli(args, { config }), openStore: () => openStore(parseConfig({ stateDir: join(dir, 'state') })) };
}

describe('airlock contracts', () => {
  it('sets, shows, removes (each recorded), and suggests from recorded sandboxes', async (t) => {
    const { dir, airlock, openStore: open } = await setup(t);
    const file = join(dir, 'c.json');
    await writeFile(file, JSON.stringify({ runtimes: ['gvisor'], hosts: ['api.openai.com'], enforce: 'kill' }));
    const set = await airlock('contracts', 'set', 'alice', file);
    assert.deepEqual([set.code, set.stdout], [0, 'contract of alice set\n'], set.stderr);
    const show = await airlock('contracts', 'show', 'alice');
    assert.deepEqual(JSON.parse(show.stdout), { runtimes: ['gvisor'], hosts: ['api.openai.com'], enforce: 'kill' });
    const rm1 = await airlock('contracts', 'rm', 'alice');
    assert.equal(rm1.code, 0, rm1.stderr);
    assert.equal((await airlock('contracts', 'rm', 'alice')).code, 2);
    assert.equal((await airlock('contracts', 'show', 'alice')).code, 2);

    const store = await open();
    try {
      const log = new AuditLog({ store: store.audit });
      assert.deepEqual((await log.query({ agentId: 'alice', limit: 10 })).map((r) => r.record.kind), ['contract.set', 'contract.removed']);
      await log.append({ kind: 'sandbox.created', agentId: 'alice', sandboxId: 's-1', data: { runtime: 'namespace', network_policy: 'restricted', limits: { memory_limit_mb: 256, cpu_limit: 1, pids_limit: 64, timeout_seconds: 30 } } });
      await log.append({ kind: 'egress', agentId: 'alice', sandboxId: 's-1', data: { host: 'pypi.org', port: 443, allowed: true, kind: 'connect' } });
    } finally {
      await store.close();
    }
    const suggested = await airlock('contracts', 'suggest', 'alice');
    assert.equal(suggested.code, 0, suggested.stderr);
    assert.match(suggested.stderr, /from 1 sandbox\(es\), 0 one-shot\(s\) and 1 allowed egress record/);
    const proposal = JSON.parse(suggested.stdout);
    assert.deepEqual([proposal.runtimes, proposal.network_modes, proposal.hosts, proposal.limits.memory_mb], [['namespace'], ['restricted'], ['pypi.org'], 256]);
    // The proposal is accepted as it is.
    await writeFile(file, suggested.stdout);
    assert.equal((await airlock('contracts', 'set', 'alice', file)).code, 0);
  });

  it('refuses bad input with exit 2, naming the problem, and stores nothing', async (t) => {
    const { dir, airlock } = await setup(t);
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ hosts: ['*'], limits: { memory_mb: 0 }, extra: true }));
    const notJson = join(dir, 'nj.json');
    await writeFile(notJson, '{');
    const cases: [string[], RegExp][] = [
      [['contracts', 'set', 'alice', bad], /invalid contract: hosts\.0: .*limits\.memory_mb: .*extra/],
      [['contracts', 'set', 'alice', notJson], /<file>: not JSON/],
      [['contracts', 'set', 'alice', join(dir, 'missing.json')], /<file>: ENOENT/],
      [['contracts', 'set', '../x', bad], /<agent>/],
      [['contracts', 'show', 'a b'], /<agent>/],
      [['contracts', 'suggest', 'nobody'], /no recorded sandboxes/],
      [['contracts', 'set', 'alice'], /missing required argument/],
    ];
    for (const [args, message] of cases) {
      const run = await airlock(...args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message, args.join(' '));
    }
    assert.equal((await airlock('contracts', 'show', 'alice')).code, 2, 'nothing was stored');
  });
});
