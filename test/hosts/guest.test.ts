/**
 * The guest host: a stock Debian kernel under QEMU with only the unified cgroup hierarchy and
 * AppArmor active. Runs when asked (guest-gate.ts): the first run builds the image (root,
 * mmdebstrap, the Debian mirror, a minute or two); later runs boot the cached image.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInGuest, type GuestRun } from './guest-boot.ts';
import { guestSkipReason } from './guest-gate.ts';
import { ensureGuestImage, hostGuestInputs } from './guest-image.ts';

const checkout = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const skip = guestSkipReason();

/** The guest's output and console, for an assertion message that shows what the guest saw. */
function shown(run: GuestRun): string {
  return `exit ${run.exitCode}${run.timedOut ? ' (timed out)' : ''}\n--- output ---\n${run.output}\n--- console (tail) ---\n${run.console.slice(-4000)}`;
}

/** One line's value from the probe script's `name=value` output. */
function field(output: string, name: string): string | undefined {
  return new RegExp(`^${name}=(.*)$`, 'm').exec(output)?.[1]?.trim();
}

const probe = `set -u
echo "fstype=$(stat -fc %T /sys/fs/cgroup)"
echo "lsm=$(cat /sys/kernel/security/lsm)"
echo "v1=$(grep -c ' - cgroup ' /proc/self/mountinfo)"
echo "controllers=$(cat /sys/fs/cgroup/cgroup.controllers)"
echo "node=$(node --version)"
echo "checkout=$(test -f package.json && echo present)"
aa-status; echo "aa_status=$?"
`;

test('the guest boots with cgroup v2 only, AppArmor active and this Node', { skip, timeout: 1_800_000 }, async (t) => {
  const image = await ensureGuestImage(await hostGuestInputs());
  t.diagnostic(`image ${image.key.slice(0, 12)} ${image.buildMs > 0 ? `built in ${image.buildMs} ms` : 'from the cache'}`);
  const run = await runInGuest(image, probe, { checkout, loadAppArmorProfiles: true, timeoutMs: 300_000 });
  t.diagnostic(`${image.qemu.version} (${image.qemu.source}), ${run.accel}: ready after ${run.bootMs} ms (guest uptime ${run.guestUptimeAtReady} s), ${run.wallMs} ms in all`);
  assert.equal(run.exitCode, 0, shown(run));
  assert.equal(field(run.output, 'fstype'), 'cgroup2fs', shown(run));
  assert.match(field(run.output, 'lsm') ?? '', /(^|,)apparmor(,|$)/, shown(run));
  assert.equal(field(run.output, 'v1'), '0', shown(run));
  for (const controller of ['memory', 'cpu', 'pids']) assert.match(field(run.output, 'controllers') ?? '', new RegExp(`\\b${controller}\\b`), shown(run));
  assert.equal(field(run.output, 'node'), process.version, shown(run));
  assert.equal(field(run.output, 'checkout'), 'present', shown(run));
  assert.equal(field(run.output, 'aa_status'), '0', shown(run));
  assert.match(run.output, /apparmor module is loaded/, shown(run));
});

test('a failing command inside the guest fails the run with its own status and output', { skip, timeout: 1_800_000 }, async () => {
  const image = await ensureGuestImage(await hostGuestInputs());
  const run = await runInGuest(image, 'echo "about to fail"; exit 7\n', { checkout, timeoutMs: 300_000 });
  assert.equal(run.exitCode, 7, shown(run));
  assert.match(run.output, /about to fail/, shown(run));
});
