import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AgentLayers } from './agent-layer.ts';

function fakeBuild(dir: string, content: string) {
  const path = join(dir, 'airlock-agent');
  writeFileSync(path, content, { mode: 0o755 });
  return { path, dir, sha256: createHash('sha256').update(content).digest('hex') };
}

test('puts the verified agent build at /run/airlock in a layer, read-only, and replaces a damaged one', () => {
  const base = mkdtempSync(join(tmpdir(), 'airlock-agent-layer-'));
  try {
    const build = fakeBuild(mkdtempSync(join(base, 'build-')), 'agent v1');
    const layer = new AgentLayers(base).layerFor(build);
    assert.equal(layer, `${base}/agent-layers/${build.sha256}`);
    const binary = `${layer}/run/airlock/airlock-agent`;
    assert.equal(readFileSync(binary, 'utf8'), 'agent v1');
    assert.equal(statSync(binary).mode & 0o7777, 0o555);
    // A layer changed on disk is not trusted by the next driver: it is made again from the build.
    writeFileSync(binary, 'tampered', { mode: 0o755 });
    assert.equal(new AgentLayers(base).layerFor(build), layer);
    assert.equal(readFileSync(binary, 'utf8'), 'agent v1');
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('refuses a build whose file does not match its checksum, naming the agent', () => {
  const base = mkdtempSync(join(tmpdir(), 'airlock-agent-layer-'));
  try {
    const build = { ...fakeBuild(base, 'agent v1'), sha256: 'a'.repeat(64) };
    assert.throws(() => new AgentLayers(base).layerFor(build), /^ControlError: agent: /);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
