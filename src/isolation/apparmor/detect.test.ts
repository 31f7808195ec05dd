import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectAppArmor, loadedProfiles, parseLoadedProfiles, usernsRestricted, type AppArmorPaths } from './detect.ts';
import { bwrapUsernsStatus, foreignBwrapProfile } from './bwrap-userns.ts';
import { appArmorFacts } from './report.ts';

const root = mkdtempSync(join(tmpdir(), 'airlock-apparmor-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A fake kernel: the module parameter, securityfs and Ubuntu's sysctl, each present or not. */
function host(name: string, facts: { param?: string; profiles?: string; restrict?: string }): AppArmorPaths {
  const dir = join(root, name);
  mkdirSync(dir);
  const paths = { enabledParam: join(dir, 'enabled'), securityDir: join(dir, 'securityfs'), restrictUserns: join(dir, 'restrict') };
  if (facts.param !== undefined) writeFileSync(paths.enabledParam, `${facts.param}\n`);
  if (facts.profiles !== undefined) {
    mkdirSync(paths.securityDir);
    writeFileSync(join(paths.securityDir, 'profiles'), facts.profiles);
  }
  if (facts.restrict !== undefined) writeFileSync(paths.restrictUserns, `${facts.restrict}\n`);
  return paths;
}

test('AppArmor absent, built in but not selected, active without securityfs, and active', () => {
  assert.deepEqual(detectAppArmor(host('none', {})), { enabled: false, reason: 'this kernel has no AppArmor' });
  const off = detectAppArmor(host('off', { param: 'N' }));
  assert.equal(off.enabled, false);
  assert.match(off.enabled ? '' : off.reason, /built in but not active/);
  const nofs = detectAppArmor(host('nofs', { param: 'Y' }));
  assert.ok(nofs.enabled && nofs.profilesFile === undefined && /mount securityfs/.test(nofs.reason));
  const on = detectAppArmor(host('on', { param: 'Y', profiles: '' }));
  assert.ok(on.enabled && on.profilesFile?.endsWith('/securityfs/profiles'));
});

test('the loaded-profile list is read as name to mode, stacked and child names whole', () => {
  const text = 'airlock-sandbox (enforce)\nnvidia_modprobe//kmod (complain)\nlsb_release (complain)\nbwrap (unconfined)\n';
  assert.deepEqual([...parseLoadedProfiles(text)], [['airlock-sandbox', 'enforce'], ['nvidia_modprobe//kmod', 'complain'], ['lsb_release', 'complain'], ['bwrap', 'unconfined']]);
  assert.equal(loadedProfiles({ enabled: false, reason: 'x' }).size, 0);
});

test('doctor: not active is fine; loaded or loadable is fine; not loadable is not', () => {
  assert.deepEqual(appArmorFacts(host('d-none', {}), '/sbin/apparmor_parser').map((f) => f.ok), [true]);
  const loaded = appArmorFacts(host('d-loaded', { param: 'Y', profiles: 'airlock-sandbox (enforce)\n' }), undefined);
  assert.equal(loaded[0]?.ok, true);
  assert.match(loaded[0]?.detail ?? '', /airlock-sandbox loaded \(enforce\)/);
  const missing = appArmorFacts(host('d-missing', { param: 'Y', profiles: '' }), undefined);
  assert.equal(missing[0]?.ok, false);
  assert.match(missing[0]?.detail ?? '', /apt-get install apparmor/);
  assert.equal(appArmorFacts(host('d-later', { param: 'Y', profiles: '' }), '/sbin/apparmor_parser')[0]?.ok, true);
});

test('Ubuntu\'s userns restriction: named with the fix until a profile grants bubblewrap userns', () => {
  assert.equal(usernsRestricted(host('u-none', {})), false);
  const bare = host('u-bare', { param: 'Y', profiles: '', restrict: '1' });
  assert.equal(usernsRestricted(bare), true);
  const status = bwrapUsernsStatus(bare);
  assert.equal(status.ok, false);
  assert.match(status.detail, /apparmor_restrict_unprivileged_userns=1.*Fix: sudo \.\/scripts\/setup\.sh install/);
  const facts = appArmorFacts(bare, '/sbin/apparmor_parser');
  assert.deepEqual(facts.map((f) => [f.name, f.ok]), [['apparmor', true], ['apparmor userns', false]]);
  assert.equal(bwrapUsernsStatus(host('u-ours', { param: 'Y', profiles: 'airlock-bwrap (unconfined)\n', restrict: '1' })).ok, true);
  assert.equal(bwrapUsernsStatus(host('u-distro', { param: 'Y', profiles: 'bwrap (unconfined)\n', restrict: '1' })).ok, true);
  assert.equal(bwrapUsernsStatus(host('u-off', { param: 'Y', profiles: '', restrict: '0' })).ok, true);
});

test('a distribution profile already attached to bubblewrap is found, so none of ours competes with it', () => {
  const dir = join(root, 'apparmor.d');
  mkdirSync(dir);
  writeFileSync(join(dir, 'airlock-bwrap'), 'profile airlock-bwrap /usr/bin/bwrap flags=(unconfined) {\n  userns,\n}\n');
  writeFileSync(join(dir, 'lsb_release'), 'profile lsb_release /usr/bin/lsb_release {\n}\n');
  assert.equal(foreignBwrapProfile('/usr/bin/bwrap', dir), undefined);
  writeFileSync(join(dir, 'bwrap-userns-restrict'), 'abi <abi/4.0>,\nprofile bwrap /usr/bin/bwrap flags=(attach_disconnected,mediate_deleted) {\n  allow userns,\n}\n');
  assert.equal(foreignBwrapProfile('/usr/bin/bwrap', dir), join(dir, 'bwrap-userns-restrict'));
  assert.equal(foreignBwrapProfile('/opt/bwrap', dir), undefined);
});
