import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { DEFAULT_CONFIG, loadConfig, parseConfig } from './config.ts';

test('the zod defaults and the file-less defaults are the same configuration', () => {
  assert.deepEqual(parseConfig({}), DEFAULT_CONFIG);
});

test('no file: defaults, as a private copy', () => {
  const a = loadConfig(undefined, {});
  a.defaults.memoryMb = 1;
  assert.equal(loadConfig(undefined, {}).defaults.memoryMb, 512);
});

test('a file overrides fields; unknown or bad fields are refused by name', () => {
  const dir = mkdtempSync(`${tmpdir()}/airlock-config-`);
  const file = `${dir}/c.json`;
  writeFileSync(file, JSON.stringify({ defaultImage: 'slim', maxima: { ...DEFAULT_CONFIG.maxima, memoryMb: 4096 } }));
  const config = loadConfig(file);
  assert.equal(config.defaultImage, 'slim');
  assert.equal(config.maxima.memoryMb, 4096);
  writeFileSync(file, JSON.stringify({ defaultImag: 'typo' }));
  assert.throws(() => loadConfig(file), /config .*c\.json: /);
  writeFileSync(file, JSON.stringify({ cgroupParent: '../escape' }));
  assert.throws(() => loadConfig(file), /cgroupParent/);
  writeFileSync(file, JSON.stringify({ defaults: { ...DEFAULT_CONFIG.defaults, memoryMb: 4096 } }));
  assert.throws(() => loadConfig(file), /defaults\.memoryMb \(4096\) exceeds maxima\.memoryMb/);
  writeFileSync(file, '{not json');
  assert.throws(() => loadConfig(file), /c\.json/);
});
