/**
 * The AppArmor profiles airlock ships, rendered here and nowhere else (the controller loads them,
 * scripts/setup.sh installs the same text through install.ts):
 *
 * - `airlock-sandbox`: every namespace-tier sandbox process runs under it (stacked at the first exec
 *   inside the sandbox, see the agent's `--apparmor-stack`). A second layer under seccomp and the
 *   namespaces: it refuses on its own what they refuse too, so a gap in one is not a gap in both.
 * - `airlock-bwrap`: only on hosts that restrict unprivileged user namespaces through AppArmor
 *   (Ubuntu 23.10+), grants `userns` to the exact bubblewrap binary airlock runs, and nothing else.
 *
 * Rules use AppArmor 3.0 syntax (Debian 12's parser) except the userns grant, which only exists
 * from AppArmor 4.0 on, as does the restriction it answers.
 */

/** Name of the profile namespace-tier sandboxes run under. */
export const SANDBOX_PROFILE = 'airlock-sandbox';

/** Name of the profile that lets airlock's bubblewrap create user namespaces on Ubuntu 23.10+. */
export const BWRAP_USERNS_PROFILE = 'airlock-bwrap';

/**
 * /dev entries a sandbox may write: what bubblewrap's `--dev` creates for it (devpts and a
 * size-limited shm included). AppArmor resolves symlinks first (/dev/stdout, /dev/ptmx, /dev/fd
 * are judged by what they point to), so they need no entry of their own.
 */
export const DEV_WRITABLE = ['full', 'null', 'pts', 'random', 'shm', 'tty', 'urandom', 'zero'] as const;

/** /proc entries a sandbox may write below: its own processes (pid directories, self, thread-self). */
export const PROC_WRITABLE = ['self', 'thread-self'] as const;

/**
 * AppArmor globs that match every path below `dir` except the entries `names` (each with all it
 * holds) and, when `digits` is set, entries whose name starts with a digit (/proc's pid
 * directories). AppArmor has no "except": a deny rule always wins over an allow rule, so the
 * complement is spelled out, one trie level at a time (`[^…]` stops at the first character that
 * leaves every kept name).
 */
export function globsExcept(dir: string, names: readonly string[], options: { digits?: boolean } = {}): string[] {
  const base = dir.endsWith('/') ? dir : `${dir}/`;
  const kept = new Set(names);
  const prefixes = new Set<string>(['']);
  for (const name of names) {
    if (!/^[a-z][a-z0-9_-]*$/.test(name)) throw new Error(`not a plain entry name: ${name}`);
    for (let i = 1; i < name.length; i++) prefixes.add(name.slice(0, i));
  }
  const globs: string[] = [];
  for (const prefix of [...prefixes].sort()) {
    const next = [...new Set(names.filter((n) => n.length > prefix.length && n.startsWith(prefix)).map((n) => n[prefix.length] as string))].sort();
    const classes = [...(prefix === '' && options.digits === true ? ['0-9'] : []), ...next, '/'];
    // A prefix that is not itself a kept name is refused exactly, and everything below it.
    if (prefix !== '' && !kept.has(prefix)) globs.push(`${base}${prefix}{,/**}`);
    globs.push(`${base}${prefix}[^${classes.join('')}]**`);
  }
  // Kept names that are prefixes of nothing else still need "name + more characters" refused.
  for (const name of names) {
    if (!prefixes.has(name)) globs.push(`${base}${name}[^/]**`);
  }
  return globs;
}

/** A filesystem type and mount point that exist nowhere (see the mount rules of the sandbox profile). */
const NO_SUCH_FS = 'airlock-none';
const NO_SUCH_MOUNTPOINT = '/airlock-none-anchor/';

/** The profile every namespace-tier sandbox runs under. */
export function renderSandboxProfile(): string {
  const deny = (globs: readonly string[], perms: string): string[] => globs.map((g) => `  audit deny ${g} ${perms},`);
  return [
    `# airlock: the AppArmor profile of namespace-tier sandboxes (rendered by src/isolation/apparmor/profile.ts; edits are overwritten).`,
    `abi <abi/3.0>,`,
    ``,
    // Why attach_disconnected: after bwrap's pivot_root, paths are judged from the sandbox's own root.
    `profile ${SANDBOX_PROFILE} flags=(attach_disconnected) {`,
    `  # Files: the sandbox's own tree is readable and executable (ix: children stay under this profile);`,
    `  # writes are refused below where the kernel, devices and boot files live.`,
    `  /{,**} mrwlkix,`,
    // Why: /proc writes reach kernel settings (/proc/sys), sysrq and other processes' maps; only a sandbox's own pid directories stay writable.
    ...deny(globsExcept('/proc', PROC_WRITABLE, { digits: true }), 'wl'),
    // Why: a user namespace's id maps are written by its creator; sandbox code never makes one.
    `  audit deny /proc/*/{uid_map,gid_map,setgroups,projid_map,timens_offsets} wl,`,
    // Why: kernel memory, the kernel log and sysrq are never a sandbox's to read or write.
    `  audit deny /proc/{kcore,kmem,mem,kmsg,sysrq-trigger} rwlk,`,
    // Why: /sys holds kernel, module, firmware and cgroup settings: nothing in it is a sandbox's to change.
    `  audit deny /sys/** wl,`,
    `  audit deny /sys/{firmware,kernel/security,kernel/debug,kernel/tracing}/** rwlk,`,
    // Why: devices beyond null/zero/full/random/urandom/tty, devpts and shm are never written.
    ...deny(globsExcept('/dev', DEV_WRITABLE), 'wl'),
    // Why: boot files and kernel modules change what the host boots and loads.
    `  audit deny /boot/** wl,`,
    `  audit deny /{,usr/}lib/modules/** wl,`,
    ``,
    // Why: mounts (and so remounts, pivot_root) would rebuild the view bwrap set up.
    `  # apparmor_parser 3.x leaves a rule class unmediated when the profile only denies in it: each`,
    `  # class gets one allow rule that can never match (no such filesystem or mount point), which the`,
    `  # deny rules below override anyway.`,
    `  mount fstype=${NO_SUCH_FS} -> ${NO_SUCH_MOUNTPOINT},`,
    `  umount ${NO_SUCH_MOUNTPOINT},`,
    `  pivot_root ${NO_SUCH_MOUNTPOINT},`,
    `  audit deny mount,`,
    `  audit deny remount,`,
    `  audit deny umount,`,
    `  audit deny pivot_root,`,
    `  # Sandbox processes hold no capabilities; the profile refuses them too.`,
    `  deny capability,`,
    ``,
    `  # Networking: sockets of the sandbox's own network namespace, never raw IP or packet sockets.`,
    `  network,`,
    `  unix,`,
    // Why: raw and packet sockets forge traffic and sniff the namespace's links.
    `  audit deny network inet raw,`,
    `  audit deny network inet6 raw,`,
    `  audit deny network packet,`,
    ``,
    `  signal,`,
    // Why read stays allowed: ps inside, and the controller reading /proc/<pid>/fd and root, need it.
    `  ptrace (read, readby),`,
    // Why: tracing is how one process takes over another; no sandbox process traces or is traced.
    `  audit deny ptrace (trace, tracedby),`,
    `}`,
    ``,
  ].join('\n');
}

/**
 * The Ubuntu 23.10+ userns grant for the bubblewrap binary at `bwrapPath` (absolute, resolved): the
 * same form Ubuntu ships for its own applications (an unconfined profile attached by path whose only
 * rule is `userns`). It confines nothing; it only lifts the restriction for that one binary.
 */
export function renderBwrapUsernsProfile(bwrapPath: string): string {
  if (!/^\/[A-Za-z0-9._+/-]+$/.test(bwrapPath) || bwrapPath.includes('/../')) throw new Error(`not a plain absolute path: ${bwrapPath}`);
  return [
    `# airlock: lets ${bwrapPath} create user namespaces where AppArmor restricts them (kernel.apparmor_restrict_unprivileged_userns=1).`,
    `# Rendered by src/isolation/apparmor/profile.ts; installed by scripts/setup.sh; edits are overwritten.`,
    `abi <abi/4.0>,`,
    ``,
    `profile ${BWRAP_USERNS_PROFILE} ${bwrapPath} flags=(unconfined) {`,
    `  userns,`,
    `}`,
    ``,
  ].join('\n');
}
