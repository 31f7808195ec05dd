/**
 * A grant's sandbox path is made inside the sandbox when the image lacks it, on every runtime,
 * without changing the shared image: at the top (`/data`) and deep below an existing image
 * directory (`/opt/new/deep`), for a directory and for a file; the root stays read-only around it.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { RUNTIMES, runInSandbox } from '../security/lib/runtime.ts';
import { runtimeCase, useSuite } from '../security/lib/suite.ts';

const suite = useSuite();
let host = '';

before(async () => {
  host = await mkdtemp(join(tmpdir(), 'airlock-mount-points-'));
  await chmod(host, 0o755);
  await mkdir(join(host, 'dir'), { mode: 0o755 });
  await writeFile(join(host, 'dir', 'in.txt'), 'from the host\n', { mode: 0o644 });
  await writeFile(join(host, 'file.txt'), 'a granted file\n', { mode: 0o644 });
});
after(() => rm(host, { recursive: true, force: true }));

for (const runtime of RUNTIMES) {
  describe(`${runtime}: grant mount points the image lacks`, () => {
    runtimeCase(suite, runtime, 'are made in the sandbox, not in the image; the root stays read-only', async (_t, ready) => {
      const script = [
        'cat /data/in.txt /opt/new/deep/in.txt /etc/granted.txt',
        'pwd',
        // The root around the new mount points is as read-only as the image.
        'if (echo x > /opt/planted) 2>/dev/null; then echo WROTE-OPT; fi',
        'if (echo x > /planted) 2>/dev/null; then echo WROTE-ROOT; fi',
        // The rest of the image is still there.
        'test -x /usr/bin/python3 && echo image-ok',
      ].join('; ');
      const result = await runInSandbox(ready, suite.config, ['/bin/sh', '-c', script], {
        mounts: [
          { hostPath: join(host, 'dir'), sandboxPath: '/data', writable: false },
          { hostPath: join(host, 'dir'), sandboxPath: '/opt/new/deep', writable: false },
          { hostPath: join(host, 'file.txt'), sandboxPath: '/etc/granted.txt', writable: false },
        ],
      });
      assert.equal(result.exit_code, 0, JSON.stringify(result));
      assert.equal(result.output, 'from the host\nfrom the host\na granted file\n/tmp\nimage-ok');
      for (const path of ['data', 'opt/new', 'etc/granted.txt']) assert.equal(existsSync(join(ready.image.rootfs, path)), false, `${path} was made in the image`);
    });
  });
}
