/**
 * Runs one command in the test guest from the shell, building the image first when the cache lacks it:
 *
 *   sudo node test/hosts/run-in-guest.ts [--profiles] [--images|--store] [--verbose] -- node bin/airlock.js doctor
 *
 * The command runs under bash in the guest's writable copy of this checkout; its output is printed
 * and its exit status becomes this process's. --profiles loads Debian's AppArmor profiles first;
 * --images shares this host's image store (/var/lib/airlock/images, read-only) at the same path;
 * --store mounts the suite's store disk (this host's default image and a built agent) at
 * /var/lib/airlock instead, as the in-guest suite has it (guest-store.ts);
 * --verbose streams the whole serial console (boot included).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInGuest } from './guest-boot.ts';
import { loadConfig } from '../../src/config/config.ts';
import { defaultGuestCache, ensureGuestImage, hostGuestInputs } from './guest-image.ts';
import { ensureGuestStoreDisk } from './guest-store.ts';
import { GUEST_STATE_DIR } from './guest-suite.ts';

/** The image store of a host set up with the default configuration. */
const HOST_IMAGES = '/var/lib/airlock/images';

/** Quotes one argument for bash: the command line is rebuilt as a script inside the guest. */
function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

async function main(argv: string[]): Promise<number> {
  const dashes = argv.indexOf('--');
  const flags = dashes === -1 ? [] : argv.slice(0, dashes);
  const command = dashes === -1 ? argv : argv.slice(dashes + 1);
  if (command.length === 0) {
    process.stderr.write('usage: node test/hosts/run-in-guest.ts [--profiles] [--images|--store] [--verbose] -- COMMAND...\n');
    return 2;
  }
  const verbose = flags.includes('--verbose');
  const image = await ensureGuestImage(await hostGuestInputs());
  const store = flags.includes('--store') ? await ensureGuestStoreDisk(loadConfig(), defaultGuestCache()) : undefined;
  process.stderr.write(`guest image ${image.dir} (${image.buildMs > 0 ? `built in ${image.buildMs} ms` : 'cached'})\n`);
  const checkout = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const run = await runInGuest(image, `${command.map(shellQuote).join(' ')}\n`, {
    checkout,
    loadAppArmorProfiles: flags.includes('--profiles'),
    ...(flags.includes('--images') ? { shares: { [HOST_IMAGES]: HOST_IMAGES } } : {}),
    ...(store === undefined ? {} : { disks: { [GUEST_STATE_DIR]: store.path } }),
    timeoutMs: Number(process.env.AIRLOCK_GUEST_TIMEOUT_MS ?? 600_000),
    ...(verbose ? { onConsole: (chunk: string) => process.stderr.write(chunk) } : {}),
  });
  if (!verbose) process.stdout.write(run.output);
  process.stderr.write(`guest (${run.accel}): ready after ${run.bootMs} ms, guest uptime ${run.guestUptimeAtReady} s, ${run.wallMs} ms in all, exit ${run.exitCode}${run.timedOut ? ', timed out' : ''}\n`);
  if (run.exitCode === null && !verbose) process.stderr.write(`--- console (tail) ---\n${run.console.slice(-4000)}\n`);
  return run.exitCode ?? 125;
}

process.exitCode = await main(process.argv.slice(2));
