/**
 * Against a real server (the app in front of the real service and drivers, isolated test
 * configuration): a request a control refuses before anything runs answers 4xx naming the control,
 * never `200 {success:false, termination_reason:"start_failed"}` as a refused grant did before; a
 * sandbox that ran and failed is still a 200 result.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { realServerSkipReason, startRealServer, type RealServer } from '../../sdk/testing/server.ts';

const skip = await realServerSkipReason();

describe('refusals before anything runs are 4xx (real server)', { skip }, () => {
  let server: RealServer;
  let dir: string;
  before(async () => {
    server = await startRealServer();
    dir = await mkdtemp(join(tmpdir(), 'airlock-api-refusals-'));
    // The sandbox's unprivileged host uid must be able to reach the real grant.
    await chmod(dir, 0o755);
    await mkdir(join(dir, 'real'), { mode: 0o755 });
    await writeFile(join(dir, 'real', 'f'), 'PUBLIC', { mode: 0o644 });
    await symlink(join(dir, 'real'), join(dir, 'link'));
  });
  after(async () => {
    await server?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string }; success?: boolean; termination_reason?: string; output?: string; exit_code?: number } };
  };

  it('execute with a grant the driver refuses (a symlink, a never-grantable tree) → 403 filesystem_access_refused', async () => {
    for (const grant of [join(dir, 'link'), '/tmp', { host_path: join(dir, 'link'), sandbox_path: '/tmp/data', mode: 'rw' }]) {
      const r = await post('/api/v1/sandbox/execute', { agent_id: 'refusals', command: ['/bin/cat', '/tmp/data/f'], filesystem_access: [grant] });
      assert.equal(r.status, 403, JSON.stringify(r.body));
      assert.equal(r.body.error?.code, 'filesystem_access_refused');
      assert.match(r.body.error?.message ?? '', /^filesystem_access: /);
      assert.equal(r.body.success, undefined, 'a refusal is no execution result');
    }
  });

  it('one answer whichever layer refuses a host path: the API\'s prefix check (/proc, /sys) and the driver (/etc, /tmp) both → 403 filesystem_access_refused', async () => {
    for (const hostPath of ['/proc/1', '/sys/kernel', '/etc', '/tmp']) {
      const r = await post('/api/v1/sandbox/execute', { agent_id: 'refusals', command: ['true'], filesystem_access: [{ host_path: hostPath, sandbox_path: '/mnt' }] });
      assert.equal(r.status, 403, `${hostPath}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error?.code, 'filesystem_access_refused', hostPath);
      assert.match(r.body.error?.message ?? '', /^filesystem_access: .*may not be granted/, hostPath);
    }
    // A malformed path is still the caller's typo: 400 invalid_path.
    const typo = await post('/api/v1/sandbox/execute', { agent_id: 'refusals', command: ['true'], filesystem_access: ['/srv/../proc'] });
    assert.equal(typo.status, 400, JSON.stringify(typo.body));
    assert.equal(typo.body.error?.code, 'invalid_path');
  });

  it('create with a refused grant → 403 filesystem_access_refused, and no sandbox is left', async () => {
    const r = await post('/api/v1/sandboxes', { filesystem_access: [{ host_path: join(dir, 'link'), sandbox_path: '/tmp/data' }] });
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.equal(r.body.error?.code, 'filesystem_access_refused');
    const list = (await (await fetch(`${server.url}/api/v1/sandboxes`)).json()) as { total_count: number };
    assert.equal(list.total_count, 0);
  });

  it('the grant the link points to works, and a command that fails is still a 200 result', async () => {
    const ok = await post('/api/v1/sandbox/execute', { agent_id: 'refusals', command: ['/bin/cat', '/tmp/data/f'], filesystem_access: [{ host_path: join(dir, 'real'), sandbox_path: '/tmp/data' }] });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.output, 'PUBLIC');
    const failed = await post('/api/v1/sandbox/execute', { agent_id: 'refusals', command: ['/bin/sh', '-c', 'exit 3'] });
    assert.equal(failed.status, 200, JSON.stringify(failed.body));
    assert.equal(failed.body.success, false);
    assert.equal(failed.body.exit_code, 3);
    assert.equal(failed.body.termination_reason, 'completed');
  });

  it('bad limits, an unknown image and a policy pin mismatch are refused before anything runs', async () => {
    const limits = await post('/api/v1/sandbox/execute', { agent_id: 'refusals', command: ['true'], memory_limit_mb: 1_000_000 });
    assert.equal(limits.status, 400, JSON.stringify(limits.body));
    const pin = await post('/api/v1/sandbox/execute', { agent_id: 'refusals', command: ['true'], expected_policy_hash: `sha256:${'0'.repeat(64)}` });
    assert.equal(pin.status, 409, JSON.stringify(pin.body));
    assert.equal(pin.body.error?.code, 'policy_mismatch');
    const image = await post('/api/v1/sandboxes', { image: 'no-such-image' });
    assert.equal(image.status, 400, JSON.stringify(image.body));
    assert.equal(image.body.error?.code, 'image_not_found');
  });
});
