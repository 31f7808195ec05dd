import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlError } from '../../host/control-error.ts';
import { findExecutable } from '../../host/which.ts';
import { prepareConfinement } from './load.ts';
import { renderSandboxProfile } from './profile.ts';

const root = mkdtempSync(join(tmpdir(), 'airlock-apparmor-load-'));
after(() => rmSync(root, { recursive: true, force: true }));

function profilesFile(text: string): string {
  const file = join(root, `profiles-${Math.random()}`);
  writeFileSync(file, text);
  return file;
}

test('nothing to apply where AppArmor is not active', async () => {
  assert.equal(await prepareConfinement(root, { enabled: false, reason: 'this kernel has no AppArmor' }), undefined);
});

test('active without securityfs: no sandbox starts, and the error names apparmor', async () => {
  await assert.rejects(prepareConfinement(root, { enabled: true, profilesFile: undefined, reason: 'mount securityfs' }), (err: unknown) => err instanceof ControlError && err.control === 'apparmor' && /securityfs/.test(err.message));
});

test('a profile this boot already loaded from the same text is used without the parser', async () => {
  const runDir = join(root, 'run');
  mkdirSync(join(runDir, 'apparmor'), { recursive: true });
  writeFileSync(join(runDir, 'apparmor', createHash('sha256').update(renderSandboxProfile()).digest('hex')), '');
  const loaded = { enabled: true as const, profilesFile: profilesFile('airlock-sandbox (enforce)\n') };
  assert.deepEqual(await prepareConfinement(runDir, loaded), { profile: 'airlock-sandbox' });
  // The same stamp with the profile gone (or in complain mode) means loading it again.
  const complain = { enabled: true as const, profilesFile: profilesFile('airlock-sandbox (complain)\n') };
  if (findExecutable('apparmor_parser') === undefined) {
    await assert.rejects(prepareConfinement(runDir, complain), (err: unknown) => err instanceof ControlError && err.control === 'apparmor' && /apparmor_parser is not installed/.test(err.message));
  }
});
