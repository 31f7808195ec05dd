import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { formatBytes, formatImageTable, registerImage } from './image.ts';

test('formatImageTable aligns columns and shortens digests', () => {
  const out = formatImageTable([
    { name: 'default', digest: `sha256:${'ab'.repeat(32)}`, size: 262_226_031, files: 6777, created: '2025-01-01T00:00:00.000Z', source: 'build trixie', problem: null },
    { name: 'x', digest: `sha256:${'0'.repeat(64)}`, size: null, files: null, created: null, source: null, problem: 'image not found' },
  ]);
  assert.equal(
    out,
    [
      'NAME     DIGEST        SOURCE        SIZE       FILES  CREATED',
      'default  abababababab  build trixie  250.1 MiB  6777   2025-01-01T00:00:00.000Z',
      'x        000000000000  -             -          -      BROKEN: image not found',
      '',
    ].join('\n'),
  );
  assert.equal(formatBytes(512), '512 B');
});

test('image verify of an unknown name names the image and the build command', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-cli-image-'));
  t.after(() => rm(dir, { recursive: true }));
  const config = join(dir, 'config.json');
  await writeFile(config, JSON.stringify({ stateDir: join(dir, 'state') }));
  const program = new Command('airlock').option('--config <file>').exitOverride();
  registerImage(program);
  await assert.rejects(
    program.parseAsync(['--config', config, 'image', 'verify', 'nosuch'], { from: 'user' }),
    /image "nosuch" not found; there are no images here yet \(airlock image build nosuch\)/,
  );
});
