/**
 * Whether this host can build and boot the test guest, or why not: the guest tests skip with that
 * reason. They run when asked (AIRLOCK_TEST_GUEST=1), as `./scripts/setup.sh test` does.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { defaultGuestCache } from './guest-image.ts';
import { QEMU_BINARY } from '../../src/isolation/microvm/qemu.ts';

/** The reason the guest tests can't run here, or false when they can. */
export function guestSkipReason(env: NodeJS.ProcessEnv = process.env): string | false {
  if (env.AIRLOCK_TEST_GUEST !== '1') return 'guest VM tests run when asked: AIRLOCK_TEST_GUEST=1, as ./scripts/setup.sh test does (needs root, qemu-system-x86 and the Debian mirror)';
  if (process.getuid?.() !== 0) return 'the guest image is built as root (mmdebstrap --mode=root) and its tests need root: run as root';
  if (process.arch !== 'x64') return `the guest is an amd64 Debian under qemu-system-x86_64; this host is ${process.arch}`;
  if (!env.AIRLOCK_GUEST_QEMU && !existsSync(QEMU_BINARY)) return 'qemu-system-x86_64 is missing: apt-get install qemu-system-x86 (./scripts/setup.sh test installs it)';
  const osRelease = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '';
  if (!/^ID=debian$/m.test(osRelease)) return 'the guest is built from this host\'s Debian suite and mirror: this host is not Debian (the guest tests run on Debian hosts only)';
  if (!existsSync('/usr/bin/mmdebstrap') && !hasCachedImage()) return 'mmdebstrap is missing and no guest image is cached: apt-get install mmdebstrap (./scripts/setup.sh installs it)';
  return false;
}

function hasCachedImage(): boolean {
  try {
    return readdirSync(defaultGuestCache()).some((name) => /^[0-9a-f]{64}$/.test(name));
  } catch {
    return false;
  }
}
