/**
 * One-shots and persistent sandboxes on an imported image, against a real server: a one-shot with
 * no command runs the image's entrypoint + cmd in the image's workdir, with the image's environment
 * under the request's `environment`, and never as the image's user; a named command or workdir
 * wins; code runs its interpreter as always. A persistent sandbox is created under the image's
 * environment and an exec naming no command runs the default one. An image environment that breaks
 * the request's rules is a 400. A run starts the digest its request resolved the name to.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { importImage } from '../../src/images/oci/import.ts';
import { busyboxLayer, dockerArchive } from '../../src/images/oci/test-images.ts';
import { realServerSkipReason, startRealServer, type RealServer } from '../../sdk/testing/server.ts';
import type { Image } from '../../src/images/image.ts';
import { storePaths } from '../../src/images/paths.ts';
import { writeTag } from '../../src/images/tags.ts';

const skip = (await realServerSkipReason()) || ((await busyboxLayer()) === undefined ? 'busybox-static is not installed (scripts/test-packages.txt)' : false);

describe('one-shot API: an imported image default command', { skip }, () => {
  let server: RealServer;
  let dir: string;
  before(async () => {
    server = await startRealServer({ networkPoolSize: 0 });
    dir = await mkdtemp(join(tmpdir(), 'airlock-image-defaults-'));
    const layer = await busyboxLayer();
    assert.ok(layer !== undefined);
    const images = {
      bb: { Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo "$GREETING $WHO $(pwd) uid=$(id -u)"'], Env: ['PATH=/bin', 'GREETING=hi', 'WHO=image'], WorkingDir: '/etc', User: 'root' },
      // A value past the request's 32 KiB limit: import takes it, the API must not.
      badenv: { Cmd: ['/bin/echo', 'never'], Env: ['PATH=/bin', `BIG=${'x'.repeat(40_000)}`] },
    };
    for (const [name, run] of Object.entries(images)) {
      const file = join(dir, `${name}.tar`);
      await writeFile(file, (await dockerArchive([layer], { run })).archive);
      await importImage(file, { config: server.config, name });
    }
  });
  after(async () => {
    await server?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  const execute = async (body: Record<string, unknown>) => {
    const res = await fetch(`${server.url}/api/v1/sandbox/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ agent_id: 'image-defaults-test', timeout_seconds: 30, ...body }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { error?: { code: string; message: string } } };
  };

  it('no command: the image entrypoint + cmd in its workdir, its env under the request, as the sandbox user', async () => {
    const ran = await execute({ image: 'bb', environment: { WHO: 'request' } });
    assert.equal(ran.status, 200, JSON.stringify(ran.body));
    assert.equal(ran.body['exit_code'], 0, JSON.stringify(ran.body));
    const [greeting, who, cwd, uid] = String(ran.body['output']).split(' ');
    assert.deepEqual([greeting, who, cwd], ['hi', 'request', '/etc']);
    assert.notEqual(uid, 'uid=0', 'the image user (root) is never applied');
  });

  it('a named command and workdir win; the image env still applies; code runs its interpreter', async () => {
    const named = await execute({ image: 'bb', workdir: '/bin', command: ['/bin/sh', '-c', 'echo "$GREETING $(pwd)"'] });
    assert.equal(named.status, 200, JSON.stringify(named.body));
    assert.equal(named.body['output'], 'hi /bin');
    const noWorkdir = await execute({ image: 'bb', command: 'pwd' });
    assert.equal(noWorkdir.body['output'], '/tmp', 'the image workdir goes with its command only');
    const code = await execute({ image: 'bb', language: 'bash', code: 'echo code' });
    // busybox has no bash: the interpreter runs (and fails), not the image's default command.
    assert.notEqual(code.body['output'], 'hi image /etc uid=65534');
    assert.doesNotMatch(String(code.body['output']), /^hi /);
  });

  it('persistent sandbox: created under the image env, an exec naming no command runs the default one', async () => {
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${server.url}${path}`, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) }) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> & { error?: { code: string; message: string } } };
    };
    const created = await call('POST', '/api/v1/sandboxes', { agent_id: 'image-defaults-test', image: 'bb', environment: { WHO: 'sandbox' }, ttl_seconds: 60 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = String(created.body['sandbox_id']);
    try {
      const byDefault = await call('POST', `/api/v1/sandboxes/${id}/exec?stream=false`, {});
      assert.equal(byDefault.status, 200, JSON.stringify(byDefault.body));
      const [greeting, who, cwd, uid] = String(byDefault.body['stdout']).trim().split(' ');
      assert.deepEqual([greeting, who, cwd], ['hi', 'sandbox', '/etc']);
      assert.notEqual(uid, 'uid=0', 'the image user (root) is never applied');
      const named = await call('POST', `/api/v1/sandboxes/${id}/exec?stream=false`, { command: ['/bin/sh', '-c', 'echo "$GREETING $WHO $(pwd)"'], environment: { WHO: 'exec' } });
      assert.equal(String(named.body['stdout']).trim(), 'hi exec /tmp');
    } finally {
      assert.equal((await call('DELETE', `/api/v1/sandboxes/${id}`)).status, 200);
    }
  });

  it('a run starts the image its request resolved, even after the name was re-pointed (the control: by name, the new one)', async () => {
    const layer = await busyboxLayer();
    assert.ok(layer !== undefined);
    const digests: string[] = [];
    for (const version of ['1', '2']) {
      const file = join(dir, `moving-${version}.tar`);
      await writeFile(file, (await dockerArchive([layer], { run: { Cmd: ['/bin/true'], Env: ['PATH=/bin', `VERSION=${version}`] } })).archive);
      digests.push((await importImage(file, { config: server.config, name: `moving-${version}` })).imageDigest);
    }
    const [first, second] = digests as [string, string];
    await writeTag(storePaths(server.config), 'moving', first);
    const pinned = await server.service.pinImage('moving');
    assert.equal(pinned?.digest, first);
    await writeTag(storePaths(server.config), 'moving', second);
    const run = async (pinnedImage?: Image) =>
      (await server.service.startExecution({ agentId: 'image-defaults-test', runtime: 'namespace', image: 'moving', command: ['/bin/true'], env: {}, limits: {}, mounts: [], pinnedImage })).result;
    assert.equal((await run(pinned)).image_digest, first);
    assert.equal((await run()).image_digest, second);
  });

  it('an image environment that breaks the request rules is refused with a 400 naming the image', async () => {
    const refused = await execute({ image: 'badenv' });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.error?.code, 'invalid_request');
    assert.match(refused.body.error?.message ?? '', /^image badenv: its run configuration breaks the request's rules: environment/);
    const create = await fetch(`${server.url}/api/v1/sandboxes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ agent_id: 'image-defaults-test', image: 'badenv' }) });
    assert.equal(create.status, 400);
    assert.match(((await create.json()) as { error: { message: string } }).error.message, /^image badenv: its run configuration breaks the request's rules: environment/);
  });
});
