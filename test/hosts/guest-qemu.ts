/**
 * The QEMU the test guest boots under: the host's (the microvm runtime's own executable), or the
 * one $AIRLOCK_GUEST_QEMU names, with its version for the run's diagnostics.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { requireQemu } from '../../src/isolation/microvm/qemu.ts';

const run = promisify(execFile);

/** A QEMU to boot the guest with. */
export interface GuestQemu {
  binary: string;
  /** `qemu-system-x86_64 --version`'s first line. */
  version: string;
  /** Where it came from: `host`, or `$AIRLOCK_GUEST_QEMU`. */
  source: string;
}

/** The QEMU for the guest, or an error naming the package that provides it. */
export async function guestQemu(env: NodeJS.ProcessEnv = process.env): Promise<GuestQemu> {
  const forced = env.AIRLOCK_GUEST_QEMU;
  if (forced !== undefined && forced !== '') return { binary: forced, version: await versionOf(forced), source: '$AIRLOCK_GUEST_QEMU' };
  const binary = requireQemu();
  return { binary, version: await versionOf(binary), source: 'host' };
}

async function versionOf(binary: string): Promise<string> {
  try {
    const { stdout } = await run(binary, ['--version']);
    return stdout.split('\n')[0] ?? '';
  } catch (err) {
    // A missing shared library shows here: name it rather than fail later at boot.
    throw new Error(`guest: ${binary} does not run: ${((err as { stderr?: string }).stderr ?? (err as Error).message).trim().split('\n')[0]}`, { cause: err });
  }
}
