/**
 * Imported images run on both runtimes exactly like built ones: a small static busybox rootfs and
 * the default image's Debian rootfs, each packed by this test as a `docker save` archive and
 * imported with the real CLI. Also: `image rm` and `image gc` keep an image a live sandbox has
 * mounted, and collect it once the sandbox is gone.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli, startCli } from '../../src/cli/test-cli.ts';
import { collectGarbage } from '../../src/images/gc.ts';
import { hostMountTables, keysInUse } from '../../src/images/live-references.ts';
import { blobDir, storePaths } from '../../src/images/paths.ts';
import { resolveImage } from '../../src/images/store.ts';
import { busyboxLayer, dockerArchive } from '../../src/images/oci/test-images.ts';
import { isolatedConfig, writeConfigFile } from '../security/lib/isolated-config.ts';
import { removeIsolatedState } from '../security/lib/runtime.ts';
import { skipReason } from './environment.ts';

const config = isolatedConfig();
const skipFor = skipReason(config);
const RUNTIMES = ['namespace', 'gvisor'] as const;

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/** The default image's rootfs as a one-layer `docker save` archive, packed with tar (as docker would). */
async function debianArchive(dir: string): Promise<string> {
  const image = await resolveImage(config, config.defaultImage);
  const layer = join(dir, 'layer.tar');
  execFileSync('tar', ['-C', image.rootfs, '--numeric-owner', '-cf', layer, '.']);
  const diffId = await sha256File(layer);
  const configJson = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['python3', '-c', 'import os; print("debian default", os.getcwd())'], WorkingDir: '/usr', User: '1000:1000' },
    rootfs: { type: 'layers', diff_ids: [diffId] },
  });
  const configHex = createHash('sha256').update(configJson).digest('hex');
  const tree = join(dir, 'archive');
  await mkdir(join(tree, diffId.slice(7)), { recursive: true });
  await rename(layer, join(tree, diffId.slice(7), 'layer.tar'));
  await writeFile(join(tree, `${configHex}.json`), configJson);
  await writeFile(join(tree, 'manifest.json'), JSON.stringify([{ Config: `${configHex}.json`, RepoTags: ['debian:fixture'], Layers: [`${diffId.slice(7)}/layer.tar`] }]));
  const archive = join(dir, 'debian.tar');
  execFileSync('tar', ['-C', tree, '-cf', archive, 'manifest.json', `${configHex}.json`, `${diffId.slice(7)}/layer.tar`]);
  await rm(tree, { recursive: true });
  return archive;
}

describe('imported images on both runtimes', { skip: skipFor('namespace') }, () => {
  let dir: string;
  let configFile: string;
  const cli = (args: string[]) => runCli(args, { config: configFile, timeoutMs: 180_000 });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-image-import-'));
    await chmod(dir, 0o755);
    configFile = writeConfigFile(config);
    const layer = await busyboxLayer();
    assert.ok(layer !== undefined, 'busybox-static is installed (scripts/test-packages.txt)');
    const { archive } = await dockerArchive([layer], { run: { Entrypoint: ['/bin/echo'], Cmd: ['hello from busybox'], Env: ['PATH=/bin', 'GREETING=hi'], WorkingDir: '/etc', User: 'root' } });
    await writeFile(join(dir, 'busybox.tar'), archive);
    const imported = await cli(['image', 'import', join(dir, 'busybox.tar'), '--name', 'bb']);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /^bb sha256:[0-9a-f]{64} {2}from docker-archive /);
    assert.match(imported.stderr, /image user "root" is not used: sandboxes always run as the unprivileged sandbox user/);
  });

  after(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    assert.deepEqual(removeIsolatedState(config), []);
  });

  for (const runtime of RUNTIMES) {
    it(`${runtime}: a static busybox image runs its default command, and commands given, as the sandbox user`, { skip: skipFor(runtime) }, async () => {
      const byDefault = await cli(['run', '--runtime', runtime, '--image', 'bb']);
      assert.equal(byDefault.code, 0, byDefault.stderr);
      assert.equal(byDefault.stdout, 'hello from busybox\n');
      const given = await cli(['run', '--runtime', runtime, '--image', 'bb', '--env', 'GREETING=override', '--', '/bin/sh', '-c', 'id -u; echo $GREETING; echo $PATH; pwd']);
      assert.equal(given.code, 0, given.stderr);
      // A given command keeps the default workdir; the image's env is under --env.
      assert.equal(given.stdout, '65534\noverride\n/bin\n/tmp\n');
    });
  }

  it('a Debian rootfs packed as a docker archive imports and runs on both runtimes', async (t) => {
    const archive = await debianArchive(dir);
    const imported = await cli(['image', 'import', archive, '--name', 'deb', '--json']);
    assert.equal(imported.code, 0, imported.stderr);
    const result = JSON.parse(imported.stdout) as { imageDigest: string; files: number };
    assert.ok(result.files > 1000, `${result.files} files`);
    const verified = await cli(['image', 'verify', 'deb']);
    assert.equal(verified.code, 0, verified.stderr);
    for (const runtime of RUNTIMES) {
      const reason = skipFor(runtime);
      if (reason !== false) {
        t.diagnostic(`${runtime} skipped: ${reason}`);
        continue;
      }
      const run = await cli(['run', '--runtime', runtime, '--image', 'deb']);
      assert.equal(run.code, 0, `${runtime}: ${run.stderr}`);
      assert.equal(run.stdout, 'debian default /usr\n', runtime);
      const id = await cli(['run', '--runtime', runtime, '--image', 'deb', '--', 'id', '-u']);
      assert.equal(id.stdout, '65534\n', `${runtime}: image user 1000 is not applied`);
    }
  });

  for (const runtime of RUNTIMES) {
    it(`${runtime}: rm and gc keep an image a live sandbox has mounted, and collect it after`, { skip: skipFor(runtime) }, async () => {
      const name = `held-${runtime}`;
      const layer = await busyboxLayer();
      const { archive } = await dockerArchive([layer ?? Buffer.alloc(0)], { run: { Cmd: ['/bin/sh', '-c', `echo ${runtime}`] } });
      await writeFile(join(dir, `${name}.tar`), archive);
      const imported = await cli(['image', 'import', join(dir, `${name}.tar`), '--name', name, '--json']);
      assert.equal(imported.code, 0, imported.stderr);
      const digest = (JSON.parse(imported.stdout) as { imageDigest: string }).imageDigest;
      const hex = digest.slice(7);
      // The sandbox ends by itself: the checks below run while it sleeps.
      const live = startCli(['run', '--runtime', runtime, '--image', name, '--', '/bin/sh', '-c', 'sleep 10'], { config: configFile });
      try {
        const deadline = Date.now() + 60_000;
        while (!keysInUse(await hostMountTables(), [hex]).has(hex)) {
          assert.ok(Date.now() < deadline, `the sandbox never mounted the image: ${live.stderrSoFar()}`);
          await sleep(200);
        }
        const removed = await cli(['image', 'rm', name]);
        assert.equal(removed.code, 0, removed.stderr);
        assert.match(removed.stdout, /files kept: a live sandbox uses it/);
        const report = await collectGarbage(config, { graceMs: 0 });
        assert.ok(report.inUse.includes(digest), 'gc reports the image as in use');
        assert.ok(!report.blobs.some((b) => b.digest === digest), 'gc did not remove it');
        assert.ok((await readdir(storePaths(config).blobs)).includes(hex));
      } finally {
        const ended = await live.done;
        assert.equal(ended.code, 0, ended.stderr);
      }
      const deadline = Date.now() + 30_000;
      while (keysInUse(await hostMountTables(), [hex]).has(hex) && Date.now() < deadline) await sleep(200);
      const report = await collectGarbage(config, { graceMs: 0 });
      assert.ok(report.blobs.some((b) => b.digest === digest), `collected once the sandbox is gone: ${JSON.stringify(report)}`);
      assert.ok(!(await readdir(storePaths(config).blobs)).includes(hex));
      // The default image (tagged) and the other imports are untouched.
      await resolveImage(config, config.defaultImage);
      await resolveImage(config, 'bb');
      assert.ok(blobDir(storePaths(config), digest).endsWith(hex));
    });
  }
});
