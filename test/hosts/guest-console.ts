/**
 * The guest's kernel command line and the reading of its serial console (pure, so it is tested
 * without booting anything).
 */

/**
 * The kernel command line: the guest's own init, the unified cgroup hierarchy only, AppArmor on.
 * `quiet loglevel=1` keeps kernel messages from interleaving with the script's output.
 */
export function guestCommandLine(loadAppArmorProfiles: boolean): string {
  return [
    'console=ttyS0',
    'root=/dev/vda',
    'rootfstype=ext4',
    'rw',
    'init=/sbin/airlock-guest-init',
    // Why: the hosts users run mount only cgroup2; no v1 controller may stay available to fall back on.
    'systemd.unified_cgroup_hierarchy=1',
    'cgroup_no_v1=all',
    'apparmor=1',
    'security=apparmor',
    // A guest whose init dies reboots, and -no-reboot turns that into QEMU exiting: no hang.
    'panic=-1',
    'quiet',
    'loglevel=1',
    ...(loadAppArmorProfiles ? ['airlock.load_profiles=1'] : []),
  ].join(' ');
}

/** What the console says about the script. */
export interface ParsedConsole {
  /** The script's output: the lines between the ready and exit markers. */
  output: string;
  /** The exit marker's status, null when the guest never printed it. */
  exitCode: number | null;
  uptimeAtReady: number | null;
}

/** Splits the serial console text (CRLF line ends, as a tty writes them) at the init's markers. */
export function parseGuestConsole(consoleText: string): ParsedConsole {
  const text = consoleText.replace(/\r\n/g, '\n');
  const ready = /@@AIRLOCK-GUEST-READY ([\d.]+)@@\n/.exec(text);
  const exit = /@@AIRLOCK-GUEST-EXIT (\d+)@@/.exec(text);
  const start = ready === null ? 0 : ready.index + ready[0].length;
  const end = exit === null || exit.index < start ? text.length : exit.index;
  return {
    output: ready === null ? '' : text.slice(start, end),
    exitCode: exit === null ? null : Number(exit[1]),
    uptimeAtReady: ready === null ? null : Number(ready[1]),
  };
}
