import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../../config/config.ts';
import { ImagePolicyRefusal } from '../signatures/policy.ts';
import { readTag } from '../tags.ts';
import { storePaths } from '../paths.ts';
import { importImage } from './import.ts';
import { dockerArchive, tarOf } from './test-images.ts';

const root = process.getuid?.() === 0;

test('the image policy is checked at import, before the archive is read: a refused import leaves nothing', { skip: root ? false : 'needs root (the store is root-owned)' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-import-policy-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = configSchema.parse({
    stateDir: join(dir, 'state'),
    imagePolicy: { rules: [{ name: 'local-tools', match: ['local/tool-*'] }], unmatched: 'deny' },
  });
  const layer = await tarOf([{ header: { name: 'etc/os-release' }, data: 'ID=fixture\n' }]);
  const good = join(dir, 'image.tar');
  await writeFile(good, (await dockerArchive([layer])).archive);
  // Not an archive at all: a refusal that named it would mean the file was read before the policy was asked.
  const garbage = join(dir, 'garbage.tar');
  await writeFile(garbage, 'not a tar archive');

  for (const file of [good, garbage]) {
    await assert.rejects(importImage(file, { config, name: 'other' }), (err: unknown) => {
      assert.ok(err instanceof ImagePolicyRefusal, String(err));
      assert.match(err.message, /image origin local\/other is not allowed: no imagePolicy rule matches it and imagePolicy\.unmatched is deny/);
      return true;
    });
  }
  // Nothing was made: no store (so no work directory, blob or tag).
  assert.deepEqual(await readdir(config.stateDir).catch(() => []), []);

  const allowed = await importImage(good, { config, name: 'tool-a' });
  assert.equal(readTag(storePaths(config), 'tool-a'), allowed.imageDigest);
});
