/** How the guest's QEMU is chosen and run (no VM is booted). */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { accelOption } from './guest-boot.ts';
import { guestQemu } from './guest-qemu.ts';

test('TCG runs both vCPUs on one host thread unless asked otherwise; KVM is left alone', () => {
  assert.equal(accelOption('tcg', {}), 'tcg,thread=single');
  assert.equal(accelOption('tcg', { AIRLOCK_GUEST_TCG_THREAD: 'multi' }), 'tcg,thread=multi');
  assert.equal(accelOption('tcg', { AIRLOCK_GUEST_TCG_THREAD: 'bogus' }), 'tcg,thread=single');
  assert.equal(accelOption('kvm', {}), 'kvm');
});

test('the QEMU named by $AIRLOCK_GUEST_QEMU is used, and one that does not run is named', async (t) => {
  await assert.rejects(guestQemu({ AIRLOCK_GUEST_QEMU: '/nonexistent/qemu' }), /guest: \/nonexistent\/qemu does not run/);
  const dir = await mkdtemp(join(tmpdir(), 'airlock-guest-qemu-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const fake = join(dir, 'qemu');
  await writeFile(fake, '#!/bin/sh\necho "QEMU emulator version 9.9.9 (fake)"\necho second line\n', { mode: 0o755 });
  const named = await guestQemu({ AIRLOCK_GUEST_QEMU: fake });
  assert.deepEqual([named.binary, named.source, named.version], [fake, '$AIRLOCK_GUEST_QEMU', 'QEMU emulator version 9.9.9 (fake)']);
});
