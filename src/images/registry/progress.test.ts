/** Pull progress: drawn on a terminal only, one line rewritten in place, cleared at the end. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { terminalProgress } from './progress.ts';

function fakeStream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const s = { isTTY, text: '', write(chunk: string) {
    s.text += chunk;
    return true;
  } };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

test('no progress on a pipe or a log file', () => {
  assert.equal(terminalProgress(fakeStream(false)), undefined);
});

test('layers and bytes on a terminal, the last state always drawn, the line cleared when done', () => {
  const stream = fakeStream(true);
  const progress = terminalProgress(stream);
  assert.ok(progress !== undefined);
  progress.update({ phase: 'download', layers: 2, layersDone: 0, bytes: 1024 * 1024, totalBytes: 4 * 1024 * 1024 });
  progress.update({ phase: 'download', layers: 2, layersDone: 0, bytes: 2 * 1024 * 1024, totalBytes: 4 * 1024 * 1024 });
  progress.update({ phase: 'download', layers: 2, layersDone: 2, bytes: 4 * 1024 * 1024, totalBytes: 4 * 1024 * 1024 });
  assert.ok(stream.text.startsWith('\r\x1b[Kdownloading: layer 0/2, 1.0 MiB of 4.0 MiB'), JSON.stringify(stream.text));
  assert.doesNotMatch(stream.text, /2\.0 MiB of/, 'redraws within 100 ms are skipped');
  assert.match(stream.text, /downloading: layer 2\/2, 4\.0 MiB of 4\.0 MiB$/, 'the finished state is drawn at once');
  progress.done();
  assert.ok(stream.text.endsWith('\r\x1b[K'));
});
