/**
 * Whether the microvm runtime can run here, for the microvm test files: the reason to skip, or the
 * image to boot. Fetches the guest kernel into the configuration's state directory (once per
 * state directory), since a host without apt's kernel package can't run the tier at all.
 */
import { existsSync } from 'node:fs';
import type { AirlockConfig } from '../../../src/config/config.ts';
import type { Image } from '../../../src/images/image.ts';
import { resolveImage } from '../../../src/images/store.ts';
import { findExecutable } from '../../../src/host/which.ts';
import { ensureGuestKernel } from '../../../src/isolation/microvm/kernel.ts';
import { QEMU_BINARY } from '../../../src/isolation/microvm/qemu.ts';
import { hostArch } from '../../../src/isolation/seccomp/index.ts';

/** `[reason, undefined]` to skip, `[false, image]` to run; `tools` names further host tools needed, with why. */
export async function microvmSkipReason(config: AirlockConfig, tools: { names: string[]; why: string } | undefined = undefined): Promise<[string | false, Image | undefined]> {
  if (process.getuid?.() !== 0) return ['the microvm runtime needs root (own uid, netns and cgroup for the VMM)', undefined];
  if (!existsSync(QEMU_BINARY)) return ['qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)', undefined];
  if (findExecutable('mkfs.erofs') === undefined) return ['mkfs.erofs is not installed (apt-get install erofs-utils)', undefined];
  if (tools !== undefined && tools.names.some((name) => findExecutable(name) === undefined)) return [`${tools.names.join(' and ')} are needed ${tools.why}`, undefined];
  if (hostArch() !== 'x86_64') return ['x86-64 guests only', undefined];
  let image: Image;
  try {
    image = await resolveImage(config, config.defaultImage);
  } catch (err) {
    return [`no usable image "${config.defaultImage}" (airlock image build): ${(err as Error).message}`, undefined];
  }
  try {
    await ensureGuestKernel(config.stateDir, new Map());
  } catch (err) {
    return [`the guest kernel can't be had here: ${(err as Error).message}`, undefined];
  }
  return [false, image];
}
