/**
 * Host checks for `airlock doctor`: each answers ok/not ok with the fact behind it, never throws.
 */
import { readFileSync, openSync, closeSync, constants } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { AirlockConfig } from '../config/config.ts';
import { describeCapacity, hostSandboxCapacity } from '../config/capacity.ts';
import { detectCgroups } from '../isolation/cgroups/index.ts';
import { appArmorFacts, bwrapUsernsStatus } from '../isolation/apparmor/index.ts';
import { createDriver, IMPLEMENTED_RUNTIMES } from '../isolation/drivers.ts';
import { findExecutable } from '../host/which.ts';
import { resolveImage } from '../images/store.ts';
import { networkInterfaces } from 'node:os';
import { findLeftovers } from '../isolation/leftovers.ts';
import { NetworkManager } from '../network/manager.ts';
import { findNetworkLeftovers } from '../network/reap.ts';
import { HOST_LINK_PREFIX, inSubnet } from '../network/slots.ts';
import { describeSandboxStates, sandboxStates } from './doctor-sandboxes.ts';

const run = promisify(execFile);

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /**
   * What a failing check means: `required` (sandboxes this configuration asks for can't run: FAIL,
   * doctor exits 1), `warn` (a feature is degraded), `info` (concerns nothing this configuration
   * uses). Absent: required.
   */
  level?: 'required' | 'warn' | 'info';
}

/** The runtimes this configuration uses: the default of every request, and every warm pool's. */
export function configuredRuntimes(config: AirlockConfig): Set<string> {
  return new Set(['namespace', ...config.service.pools.map((p) => p.runtime)]);
}

/** How a check reads on the terminal and in --json: ok, FAIL (required), warn or info. */
export function checkStatus(check: Check): 'ok' | 'FAIL' | 'warn' | 'info' {
  if (check.ok) return 'ok';
  return check.level === 'warn' || check.level === 'info' ? check.level : 'FAIL';
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Runs every check; runtimes are probed for real (they start a sandbox). */
export async function runChecks(config: AirlockConfig): Promise<Check[]> {
  const checks: Check[] = [];
  const used = configuredRuntimes(config);
  for (const runtime of IMPLEMENTED_RUNTIMES) {
    const a = await createDriver(runtime, config).probe();
    const facts = Object.entries(a.details).map(([k, v]) => `${k}: ${v}`).join('; ');
    // A runtime nothing in this configuration uses only refuses the requests that name it.
    const unused = used.has(runtime) ? '' : ' (not used by this configuration: requests naming it are refused)';
    checks.push({ name: `runtime ${runtime}`, ok: a.available, detail: a.available ? facts : `${a.reason}${facts ? ` (${facts})` : ''}${unused}`, level: used.has(runtime) ? 'required' : 'info' });
  }
  // Why these are warnings: without them `none` sandboxes still run; the detail names what is lost.
  const degraded = (check: Check): Check => ({ ...check, level: 'warn' });
  checks.push(cgroupCheck(), userNamespaceCheck(), seccompCheck(config), ...appArmorFacts(), kvmCheck(), await microvmNetworkCheck(used), degraded(await nftablesCheck()), degraded(networkCheck(config)), await imageCheck(config), await leftoverCheck(config));
  checks.push({ name: 'capacity', ok: true, detail: describeCapacity(config.service.maxSandboxes, hostSandboxCapacity(config.defaults.memoryMb)) });
  checks.push({ name: 'image policy', ...(await (await import('../images/signatures/health.ts')).imagePolicyHealth(config)) });
  return checks;
}

/** Reaps what sandboxes of dead controllers left (the server also does this when it starts). */
export async function reapStale(config: AirlockConfig): Promise<string[]> {
  const reaped: string[] = [];
  for (const runtime of IMPLEMENTED_RUNTIMES) reaped.push(...(await createDriver(runtime, config).reapStale().catch(() => [])));
  // Networks after sandboxes: a slot's namespace is only removable once nothing runs in it.
  const networks = await new NetworkManager({ config }).reapStale().catch(() => 0);
  if (networks > 0) reaped.push(`${networks} network slot(s)`);
  return reaped;
}

async function leftoverCheck(config: AirlockConfig): Promise<Check> {
  try {
    const nft = findExecutable('nft');
    const found = [...findLeftovers(config), ...(nft === undefined ? [] : await findNetworkLeftovers(config.network.subnet, nft, config.network.instance))];
    const states = sandboxStates(config);
    const others = found.filter((entry) => !entry.startsWith('owner record ')).length;
    // Live sandboxes of a running controller are fine; what a dead one left is to reap.
    return { name: 'sandbox state', ok: states.stale.length === 0, detail: describeSandboxStates(states, others), level: 'warn' };
  } catch (err) {
    return { name: 'sandbox state', ok: false, detail: (err as Error).message, level: 'warn' };
  }
}

function cgroupCheck(): Check {
  try {
    const layout = detectCgroups();
    const where = layout.version === 2 ? layout.mountPoint : Object.values(layout.mounts).join(', ');
    return { name: 'cgroups', ok: true, detail: `v${layout.version}; controllers ${layout.controllers.join(' ')} (${where})` };
  } catch (err) {
    return { name: 'cgroups', ok: false, detail: (err as Error).message };
  }
}

function userNamespaceCheck(): Check {
  const max = readOr('/proc/sys/user/max_user_namespaces');
  const debianToggle = readOr('/proc/sys/kernel/unprivileged_userns_clone');
  const apparmor = readOr('/proc/sys/kernel/apparmor_restrict_unprivileged_userns');
  // Ubuntu's restriction is lifted for bubblewrap by a profile granting it userns (the apparmor userns line says which).
  const ok = max !== undefined && Number(max) > 0 && debianToggle !== '0' && (apparmor !== '1' || bwrapUsernsStatus().ok);
  const facts = [`max_user_namespaces=${max ?? 'absent'}`];
  if (debianToggle !== undefined) facts.push(`unprivileged_userns_clone=${debianToggle}`);
  if (apparmor !== undefined) facts.push(`apparmor_restrict_unprivileged_userns=${apparmor}`);
  return { name: 'user namespaces', ok, detail: facts.join(', ') };
}

function seccompCheck(config: AirlockConfig): Check {
  const status = readOr('/proc/self/status') ?? '';
  const actions = readOr('/proc/sys/kernel/seccomp/actions_avail');
  const ok = /^Seccomp:/m.test(status) && (actions?.includes('kill_process') ?? false);
  // Namespace sandboxes don't start without it while violations.watchWrites is on (the agent's write watcher).
  if (ok && config.violations.watchWrites !== false && !/\buser_notif\b/.test(actions ?? '')) {
    return { name: 'seccomp', ok: false, detail: `actions: ${actions}; no user_notif: the write watcher (violations.watchWrites) needs seccomp user notification (Linux 5.5+); set violations.watchWrites: false to run without it` };
  }
  return { name: 'seccomp', ok, detail: actions ? `actions: ${actions}` : 'no seccomp support in this kernel' };
}

function kvmCheck(): Check {
  try {
    closeSync(openSync('/dev/kvm', constants.O_RDWR));
  } catch (err) {
    return { name: 'kvm', ok: false, detail: `/dev/kvm not usable: ${(err as NodeJS.ErrnoException).code ?? err} (the microvm runtime emulates its guests with TCG instead: seconds per boot)`, level: 'info' };
  }
  // An openable /dev/kvm on an x86 CPU without vmx/svm (a VM without nested virtualization) can't run guests.
  if (process.arch === 'x64' && !/\b(vmx|svm)\b/.test(readOr('/proc/cpuinfo') ?? '')) {
    // Why info: only the microvm runtime uses KVM, and it still runs (under TCG) without it.
    return { name: 'kvm', ok: false, detail: '/dev/kvm exists but the CPU offers no vmx/svm (no nested virtualization): the microvm runtime emulates its guests with TCG instead', level: 'info' };
  }
  return { name: 'kvm', ok: true, detail: '/dev/kvm usable (the microvm runtime runs its guests with hardware virtualization)' };
}

async function nftablesCheck(): Promise<Check> {
  const nft = findExecutable('nft');
  if (nft === undefined) return { name: 'nftables', ok: false, detail: 'nft not installed (apt-get install nftables)' };
  try {
    const { stdout } = await run(nft, ['--version']);
    await run(nft, ['list', 'tables']);
    return { name: 'nftables', ok: true, detail: stdout.trim() };
  } catch (err) {
    return { name: 'nftables', ok: false, detail: `nft present but unusable: ${(err as Error).message.split('\n')[0]}` };
  }
}

/**
 * What a microvm with an attached network needs of the kernel: a bridge and a tap, made here the way
 * the slot makes them (tap.ts), in a network namespace of their own that dies with the probe.
 */
export async function microvmNetworkCheck(used: Set<string>): Promise<Check> {
  const level = used.has('microvm') ? 'warn' : 'info';
  const ip = findExecutable('ip');
  const unshare = findExecutable('unshare');
  if (ip === undefined || unshare === undefined) return { name: 'microvm network', ok: false, detail: 'ip or unshare not installed (apt-get install iproute2 util-linux)', level };
  try {
    await run(unshare, ['--net', '--', 'sh', '-c', `"$0" link add airlock-probe type bridge && "$0" tuntap add dev airlock-probe-t mode tap`, ip], { timeout: 10_000 });
    return { name: 'microvm network', ok: true, detail: 'the kernel makes bridges and taps (restricted and full networks for microvm guests)', level };
  } catch (err) {
    const why = ((err as { stderr?: string }).stderr ?? (err as Error).message).trim().split('\n')[0];
    return { name: 'microvm network', ok: false, detail: `no bridge or tap here (${why}): microvm sandboxes run with network none only; the kernel needs CONFIG_BRIDGE and CONFIG_TUN`, level };
  }
}

/** Sandbox networks: tools present, and the slot subnet not used by any host interface. */
function networkCheck(config: AirlockConfig): Check {
  const missing = ['ip', 'nft', 'nsenter'].filter((tool) => findExecutable(tool) === undefined);
  if (missing.length > 0) return { name: 'network', ok: false, detail: `missing ${missing.join(', ')}: only network_policy none works` };
  const clashes = Object.entries(networkInterfaces())
    .filter(([name]) => !name.startsWith(HOST_LINK_PREFIX))
    .flatMap(([name, list]) => (list ?? []).filter((a) => a.family === 'IPv4' && inSubnet(config.network.subnet, a.address)).map((a) => `${name} ${a.address}`));
  if (clashes.length > 0) return { name: 'network', ok: false, detail: `subnet ${config.network.subnet} is in use on this host (${clashes.join(', ')}): set network.subnet` };
  // A wildcard listener on the proxy port would keep every sandbox's egress proxy from binding.
  if (wildcardListener(config.network.proxyPort)) {
    return { name: 'network', ok: false, detail: `something listens on *:${config.network.proxyPort}: restricted sandboxes can't start their proxy; set network.proxyPort` };
  }
  const forwarding = readOr('/proc/sys/net/ipv4/ip_forward') === '1' ? 'on' : 'off (full mode turns it on)';
  return { name: 'network', ok: true, detail: `subnet ${config.network.subnet}, proxy port ${config.network.proxyPort}, IPv4 forwarding ${forwarding}` };
}

/** Whether a TCP socket listens on `port` on every address (0.0.0.0 or ::). */
function wildcardListener(port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return ['/proc/net/tcp', '/proc/net/tcp6'].some((file) =>
    (readOr(file) ?? '')
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      // st 0A = LISTEN; a local address of all zeros is the wildcard.
      .some((f) => f[3] === '0A' && f[1] !== undefined && /^0+:/.test(f[1]) && f[1].endsWith(`:${hexPort}`)),
  );
}

async function imageCheck(config: AirlockConfig): Promise<Check> {
  try {
    const image = await resolveImage(config, config.defaultImage);
    return { name: 'default image', ok: true, detail: `${image.name} ${image.digest}` };
  } catch (err) {
    return { name: 'default image', ok: false, detail: `${(err as Error).message} (build it: airlock image build ${config.defaultImage})` };
  }
}
