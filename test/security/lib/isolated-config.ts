/**
 * The one configuration every real-sandbox test runs on: isolated from a live deployment on the
 * same host (an `airlock serve` on the default configuration) and from every other test file.
 * Each call gets its own
 *
 * - state directory (a temporary one holding the host's default image and agent, hard-linked:
 *   nothing a test builds or writes lands in the live store),
 * - cgroup parent, run directory (uid leases, owner records, runsc state) and host uid range,
 * - network slot space (`network.instance`: own namespace, link and nft table names and slot
 *   lease directory) and subnet (reserved host-wide, so two test files never share one),
 *
 * so "leftovers" can be looked for in what the test created alone, and no test can see, reap or
 * kill a live sandbox. Everything else (limits, mirror, image name) is the host's.
 */
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AirlockConfig, NetworkConfig, ServiceConfig } from '../../../src/config/config.ts';
import { configSchema, loadConfig } from '../../../src/config/config.ts';
import { blobDir, storePaths } from '../../../src/images/paths.ts';
import { inSubnet, slotSpace } from '../../../src/network/slots.ts';

/** What a test may set on top of the isolation. */
export interface IsolatedConfigOptions {
  service?: Partial<ServiceConfig>;
  network?: Partial<Omit<NetworkConfig, 'subnet' | 'instance'>>;
}

/** Host-wide reservations of test subnets: one directory per subnet base, created with mkdir (atomic). */
const SUBNET_RESERVATIONS = '/run/airlock-test-subnets';
/** Prefix of every per-test state directory (cleanup removes nothing else). */
const STATE_PREFIX = 'airlock-teststate-';

/**
 * The host configuration with everything a live deployment or another test could share replaced
 * by this test's own (see the module comment). Creates the state directory, the slot lease
 * directory and the subnet reservation; {@link releaseIsolatedConfig} removes them.
 */
export function isolatedConfig(options: IsolatedConfigOptions = {}): AirlockConfig {
  const base = loadConfig();
  const tag = `${process.pid}-${randomInt(1e6)}`;
  const instance = reserveInstance();
  const subnet = reserveSubnet(base.network.subnet);
  const stateDir = privateStateDir(base);
  return configSchema.parse({
    ...base,
    stateDir,
    cgroupParent: `airlock-test-${tag}`,
    runDir: `/run/airlock-test-${tag}`,
    // A uid range no deployment uses by default, so "a process in the range" means one of ours.
    hostUidBase: 1_700_000_000 + randomInt(6000) * 65_536,
    hostUidCount: 65_536,
    // Tests start warm pools only when they ask for them; the unix socket path is the live deployment's.
    service: { ...base.service, pools: [], socket: { ...base.service.socket, path: null }, ...options.service },
    // The drift monitors stop with the last sandbox, so that a case's leftover check sees none of
    // them still lingering (a bench that measures the default passes it in options.network).
    network: { ...base.network, driftMonitorLingerMs: 0, ...options.network, subnet, instance },
  });
}

/**
 * `config` with the development switch on: a spawned `airlock serve` answers this test's unsigned
 * loopback requests as an operator (tests of crash recovery and descriptors, not of authentication).
 */
export function withUnsignedLoopbackOperator(config: AirlockConfig): AirlockConfig {
  return { ...config, auth: { ...config.auth, unsignedLoopback: true, unsignedLoopbackAs: { name: 'test-operator', role: 'operator', groups: [] } } };
}

/** Writes `config` where a spawned `airlock` process can read it (`--config` / AIRLOCK_CONFIG). */
export function writeConfigFile(config: AirlockConfig): string {
  const file = join(config.stateDir, 'config.json');
  writeFileSync(file, JSON.stringify(config), { mode: 0o600 });
  return file;
}

/** Removes what {@link isolatedConfig} created; returns what it could not remove. */
export function releaseIsolatedConfig(config: AirlockConfig): string[] {
  const problems: string[] = [];
  const leaseDir = slotSpace(config.network.instance).leaseDir;
  if (config.network.instance !== '' && existsSync(leaseDir)) {
    try {
      // Never recursive: a lease left is a leftover to report, not to hide.
      rmdirSync(leaseDir);
    } catch (err) {
      problems.push(`slot lease directory ${leaseDir}: ${(err as Error).message}`);
    }
  }
  rmSync(`${SUBNET_RESERVATIONS}/${config.network.subnet.split('/')[0] ?? ''}`, { recursive: true, force: true });
  const name = config.stateDir.slice(tmpdir().length + 1);
  // Only ever a directory this module made: never the host's state directory.
  if (config.stateDir.startsWith(tmpdir()) && name.startsWith(STATE_PREFIX) && !name.includes('/')) rmSync(config.stateDir, { recursive: true, force: true });
  return problems;
}

/** A 4-character slot-space tag whose lease directory did not exist; the directory now does. */
function reserveInstance(): string {
  for (let i = 0; i < 100; i++) {
    const instance = `t${randomInt(36 ** 3).toString(36).padStart(3, '0')}`;
    try {
      mkdirSync(slotSpace(instance).leaseDir, { mode: 0o700 });
      return instance;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  throw new Error('no free network slot space for a test');
}

/**
 * A /22 (256 slots: enough for the suite's 100 concurrent restricted sandboxes) in 10.128.0.0/10,
 * overlapping neither the live configuration's subnet nor any address on the host, and reserved.
 */
function reserveSubnet(live: string): string {
  mkdirSync(SUBNET_RESERVATIONS, { recursive: true, mode: 0o700 });
  const hostAddresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).filter((a) => a.family === 'IPv4').map((a) => a.address));
  for (let i = 0; i < 200; i++) {
    const baseAddress = `10.${128 + randomInt(64)}.${randomInt(64) * 4}.0`;
    const subnet = `${baseAddress}/22`;
    const [liveBase] = live.split('/') as [string];
    if (inSubnet(live, baseAddress) || inSubnet(subnet, liveBase)) continue;
    if (hostAddresses.some((a) => inSubnet(subnet, a))) continue;
    try {
      mkdirSync(`${SUBNET_RESERVATIONS}/${baseAddress}`);
      return subnet;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  throw new Error('no free test subnet in 10.128.0.0/10');
}

/**
 * A fresh state directory holding the host's default image (blob and tag) and built agent,
 * hard-linked (copied across filesystems). Without a default image on the host it stays empty,
 * and every runtime reports the image missing: skipped with the reason, never passed.
 */
function privateStateDir(base: AirlockConfig): string {
  const dir = mkdtempSync(join(tmpdir(), STATE_PREFIX));
  // The sandbox's unprivileged host uid traverses it to reach the image root and the agent.
  chmodSync(dir, 0o755);
  const from = storePaths(base);
  const to = storePaths({ stateDir: dir });
  for (const d of [to.root, join(to.root, 'blobs'), to.blobs, to.tags]) mkdirSync(d, { mode: 0o755 });
  mkdirSync(to.tmp, { mode: 0o711 });
  let digest: string;
  try {
    digest = readFileSync(join(from.tags, base.defaultImage), 'utf8').trim();
  } catch {
    return dir;
  }
  linkTree(blobDir(from, digest), blobDir(to, digest));
  writeFileSync(join(to.tags, base.defaultImage), `${digest}\n`, { mode: 0o644 });
  const agent = join(base.stateDir, 'agent');
  if (existsSync(agent)) linkTree(agent, join(dir, 'agent'));
  return dir;
}

/** `cp -al` (hard links, ~0.2 s for the default image), or `cp -a` where links can't cross filesystems. */
function linkTree(from: string, to: string): void {
  try {
    execFileSync('cp', ['-al', from, to], { stdio: 'pipe' });
  } catch {
    rmSync(to, { recursive: true, force: true });
    execFileSync('cp', ['-a', from, to], { stdio: 'pipe' });
  }
}
