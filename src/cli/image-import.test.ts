import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { storePaths } from '../images/paths.ts';
import { tarOf, writeOciLayout } from '../images/oci/test-images.ts';
import { runCli, startCli } from './test-cli.ts';

const skip = process.getuid?.() === 0 ? false : 'needs root (the store is root-owned)';

test('image import: SIGINT mid-import exits 130 and leaves nothing; then import, ls, rm work end to end', { skip }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-cli-import-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const stateDir = join(dir, 'state');
  const config = join(dir, 'config.json');
  await writeFile(config, JSON.stringify({ stateDir }));
  // Incompressible data, so the import takes long enough to be interrupted in the middle.
  const files = Array.from({ length: 48 }, (_, i) => ({ header: { name: `data/f${i}` }, data: randomBytes(2 * 1024 * 1024) }));
  const layout = join(dir, 'layout');
  await writeOciLayout(layout, [await tarOf([{ header: { name: 'etc/', type: 'directory' } }, ...files])], { run: { Cmd: ['/bin/true'] } });
  const tmp = storePaths({ stateDir }).tmp;

  const started = startCli(['image', 'import', layout, '--name', 'big'], { config });
  const deadline = Date.now() + 30_000;
  while ((await readdir(tmp).catch(() => [])).length === 0) {
    assert.ok(Date.now() < deadline, `the import never started: ${started.stderrSoFar()}`);
    await sleep(10);
  }
  started.child.kill('SIGINT');
  const ended = await started.done;
  assert.equal(ended.code, 130, ended.stderr);
  assert.match(ended.stderr, /image import interrupted; nothing was stored/);
  assert.deepEqual(await readdir(tmp), [], 'the work directory was removed');
  assert.deepEqual(await readdir(storePaths({ stateDir }).blobs), []);

  const imported = await runCli(['image', 'import', layout, '--name', 'big'], { config });
  assert.equal(imported.code, 0, imported.stderr);
  const ls = await runCli(['image', 'ls'], { config });
  assert.match(ls.stdout, /^big +[0-9a-f]{12} +oci-layout \/.*layout +96\.0 MiB +/m);
  const removed = await runCli(['image', 'rm', 'big'], { config });
  assert.match(removed.stdout, /^removed big \(sha256:[0-9a-f]{64}\)\n$/);
  assert.deepEqual(await readdir(storePaths({ stateDir }).blobs), [], 'no other name or sandbox held it: its files went too');
  const gone = await runCli(['image', 'rm', 'big'], { config });
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /image "big" not found/);
});
