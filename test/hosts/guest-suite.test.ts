/**
 * The focused suite on a cgroup v2 + AppArmor host: a stock Debian kernel under QEMU with only the
 * unified hierarchy and AppArmor active (Debian's profiles loaded), running the project's own limit,
 * escape, reaping, service, leftovers and AppArmor test files (guest-suite.ts) against this host's
 * default image. The guest's result is this test's result; a failure names the guest's failing
 * tests with their messages. Runs when asked (guest-gate.ts): the first run builds the guest.
 */
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/config.ts';
import { chooseAccel, runInGuest, type GuestRun } from './guest-boot.ts';
import { guestSkipReason } from './guest-gate.ts';
import { defaultGuestCache, ensureGuestImage, hostGuestInputs, pruneGuestCache } from './guest-image.ts';
import { ensureGuestStoreDisk, hostDefaultImageDigest } from './guest-store.ts';
import { GUEST_REPORT_FILE, GUEST_STATE_DIR, guestSuiteScript, inGuestTestFiles, knobsFor, readGuestReport, snapshotCheckout } from './guest-suite.ts';

const consoleLog = process.env.AIRLOCK_GUEST_CONSOLE || undefined;
const checkout = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The end of the guest's console, for a guest that died or hung before its report was complete. */
function consoleTail(run: GuestRun): string {
  return `exit ${run.exitCode}${run.timedOut ? ' (timed out)' : ''}\n--- console (tail) ---\n${run.console.slice(-6000)}`;
}

test('the focused suite passes inside a guest with cgroup v2 only and AppArmor active', { skip: guestSkipReason(), timeout: 3_000_000 }, async (t) => {
  const config = loadConfig();
  if (hostDefaultImageDigest(config) === undefined) {
    t.skip(`no default image "${config.defaultImage}" in ${config.stateDir} to run the suite on (./scripts/setup.sh install builds it)`);
    return;
  }
  const cache = defaultGuestCache();
  const image = await ensureGuestImage(await hostGuestInputs(), cache);
  const store = await ensureGuestStoreDisk(config, cache);
  const pruned = await pruneGuestCache(cache, [image.key, basename(store.path)]);
  t.diagnostic(`guest ${image.key.slice(0, 12)} ${image.buildMs > 0 ? `built in ${image.buildMs} ms` : 'from the cache'}; store disk (${store.digest.slice(0, 19)}) ${store.buildMs > 0 ? `built in ${store.buildMs} ms` : 'from the cache'}${pruned.length > 0 ? `; pruned ${pruned.length} old cache entries` : ''}`);

  const files = inGuestTestFiles(checkout);
  const knobs = knobsFor(chooseAccel());
  const snapshot = await snapshotCheckout(checkout);
  t.after(() => rm(snapshot.dir, { recursive: true, force: true }));
  const run = await runInGuest(image, guestSuiteScript(files, knobs), {
    checkout: snapshot.dir,
    shares: snapshot.shares,
    loadAppArmorProfiles: true,
    disks: { [GUEST_STATE_DIR]: store.path },
    collect: [GUEST_REPORT_FILE],
    memoryMiB: 4096,
    // Why: a hung guest must not eat CI's 90 minutes beside the host suite's ~26; whole runs took
    // 13–18 min on a quiet host (one thread for TCG), 41 min on a loaded one (a thread per vCPU).
    timeoutMs: 2_700_000,
    // $AIRLOCK_GUEST_CONSOLE: a file to follow the guest's console in while the suite runs.
    ...(consoleLog === undefined ? {} : { onConsole: (chunk: string) => appendFileSync(consoleLog, chunk) }),
  });
  const report = readGuestReport(run.files[GUEST_REPORT_FILE] ?? '', files);
  t.diagnostic(`${image.qemu.version} (${image.qemu.source}), ${run.accel} (slowness ${knobs.slowness}, leftovers ${knobs.leftoversCount} per runtime): ready after ${run.bootMs} ms, ${run.wallMs} ms in all`);
  t.diagnostic(`in the guest: ${files.length} files, ${report.counts.pass} passed, ${report.counts.fail} failed, ${report.counts.skip} skipped, ${report.counts.todo} todo`);
  for (const skipped of report.tests.filter((x) => x.outcome === 'skip' || x.outcome === 'todo')) t.diagnostic(`${skipped.outcome}: ${skipped.file}: ${skipped.name}: ${skipped.detail}`);

  assert.ok(report.failures.length === 0, `${report.failures.length} tests failed in the guest:\n${report.failures.join('\n')}`);
  assert.equal(run.exitCode, 0, `the guest's test run failed without a failing test in its report:\n${consoleTail(run)}`);
  // Why: a file whose every case skipped (no runtime, no image in the guest) proved nothing there.
  assert.ok(report.filesWithoutPass.length === 0, `no test passed in the guest in ${report.filesWithoutPass.join(', ')} (see the skips above)`);
});
