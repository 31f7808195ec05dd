/**
 * Builds a real image with mmdebstrap (slow: downloads ~60 MB from the Debian mirror) into a
 * temporary stateDir. Runs only with AIRLOCK_TEST_IMAGE_BUILD=1, as root, with network access.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../../src/config/config.ts';
import { buildImage } from '../../src/images/build.ts';
import { resolveImage } from '../../src/images/store.ts';
import { verifyImage } from '../../src/images/verify.ts';

const skip =
  process.env['AIRLOCK_TEST_IMAGE_BUILD'] !== '1'
    ? 'set AIRLOCK_TEST_IMAGE_BUILD=1 to run the real mmdebstrap build (slow, needs the Debian mirror)'
    : process.getuid?.() !== 0
      ? 'image build needs root (mmdebstrap --mode=root)'
      : false;

test('image build: real minbase image is stored, verifiable and usable by an unprivileged uid', { skip, timeout: 15 * 60_000 }, async (t) => {
  const stateDir = await mkdtemp(join(tmpdir(), 'airlock-image-build-'));
  t.after(() => rm(stateDir, { recursive: true, force: true }));
  const config = configSchema.parse({ stateDir });
  const lines: string[] = [];
  const result = await buildImage(config, { name: 'default', log: (l) => lines.push(l) });
  assert.ok(lines.some((l) => l.startsWith('mmdebstrap: ')), 'mmdebstrap progress is streamed');
  assert.ok(lines.some((l) => /^image: hashing \d+ files/.test(l)));
  assert.ok(lines.some((l) => l.startsWith(`image: stored ${result.digest}`)));

  const image = await resolveImage(config, 'default');
  assert.equal(image.digest, result.digest);
  assert.deepEqual(await readdir(join(image.rootfs, 'dev')), [], 'dev/ holds no device nodes');
  for (const dir of ['proc', 'sys', 'tmp', 'run', 'home', 'work', 'var/tmp']) {
    assert.ok((await lstat(join(image.rootfs, dir))).isDirectory(), dir);
  }
  const verified = await verifyImage(config, 'default');
  assert.equal(verified.ok, true, verified.differences.join('\n'));

  // The rootfs must be usable by an unprivileged host uid (as sandboxes run): read libs, exec tools.
  const uid = String(config.hostUidBase);
  const run = (...argv: string[]): string => {
    const r = spawnSync('/usr/sbin/chroot', [`--userspec=${uid}:${uid}`, image.rootfs, ...argv], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    assert.equal(r.status, 0, `${argv.join(' ')}: ${r.error?.message ?? r.stderr}`);
    return r.stdout.trim();
  };
  assert.equal(run('/bin/sh', '-c', 'echo ok'), 'ok');
  assert.equal(run('/usr/bin/python3', '-c', 'print(6*7)'), '42');
  assert.equal(run('/usr/bin/node', '-e', 'console.log(6*7)'), '42');
  assert.match(run('/usr/bin/prlimit', '--version'), /util-linux/);
  assert.ok((await lstat(join(image.rootfs, 'etc/ssl/certs/ca-certificates.crt'))).isFile());
});
