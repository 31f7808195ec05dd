/** The guest's kernel command line and console parsing, without booting anything. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { guestCommandLine, parseGuestConsole } from './guest-console.ts';

test('the kernel command line asks for cgroup v2 only and AppArmor', () => {
  const words = guestCommandLine(false).split(' ');
  for (const word of ['systemd.unified_cgroup_hierarchy=1', 'cgroup_no_v1=all', 'apparmor=1', 'security=apparmor', 'init=/sbin/airlock-guest-init']) {
    assert.ok(words.includes(word), word);
  }
  assert.ok(!words.includes('airlock.load_profiles=1'));
  assert.ok(guestCommandLine(true).split(' ').includes('airlock.load_profiles=1'));
});

test('the output is what lies between the markers, with CRLF turned back into LF', () => {
  const text = '[    0.1] boot noise\r\n@@AIRLOCK-GUEST-READY 3.52@@\r\nline one\r\nline two\r\n@@AIRLOCK-GUEST-EXIT 3@@\r\n[ 9.9] reboot: Power down\r\n';
  assert.deepEqual(parseGuestConsole(text), { output: 'line one\nline two\n', exitCode: 3, uptimeAtReady: 3.52 });
});

test('a guest that never got ready reports no output and no status', () => {
  assert.deepEqual(parseGuestConsole('Kernel panic - not syncing: VFS: Unable to mount root fs\r\n'), { output: '', exitCode: null, uptimeAtReady: null });
});

test('a guest cut off mid-script keeps the output it printed and has no status', () => {
  const parsed = parseGuestConsole('@@AIRLOCK-GUEST-READY 1.00@@\npartial\n');
  assert.equal(parsed.output, 'partial\n');
  assert.equal(parsed.exitCode, null);
});

test('an init failure before the script reports its status with no script output', () => {
  const parsed = parseGuestConsole('airlock-guest-init: cannot mount cgroup2\n@@AIRLOCK-GUEST-EXIT 125@@\n');
  assert.equal(parsed.exitCode, 125);
  assert.equal(parsed.output, '');
});
