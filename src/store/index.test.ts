import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../config/config.ts';
import { openStore, storePath } from './index.ts';
import { tempStorePath } from './test-helpers.ts';

test('the store lives in a private directory of its own under the state directory unless store.path says otherwise', async (t) => {
  assert.equal(storePath(parseConfig({ stateDir: '/var/lib/airlock' })), '/var/lib/airlock/store/airlock.db');
  assert.equal(storePath(parseConfig({ store: { path: '/srv/a.db' } })), '/srv/a.db');

  const { dir } = await tempStorePath(t);
  const store = await openStore(parseConfig({ stateDir: dir }));
  t.after(() => store.close());
  assert.equal(statSync(join(dir, 'store')).mode & 0o777, 0o700);
  assert.equal(statSync(join(dir, 'store', 'airlock.db')).mode & 0o777, 0o600);
});
