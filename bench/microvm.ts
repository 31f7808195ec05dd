/**
 * The microvm runtime's start to first command, against raw QEMU with the same flags and the same
 * guest (kernel, initramfs, erofs root): airlock's driver (leased uid, own network namespace,
 * cgroup, parked launch, descriptors only, channel secret) creating a sandbox and running `true`
 * until its EXIT, and QEMU spawned directly by root doing the same handshake and `true` over the
 * agent. Both ways: restored from the shape's snapshot (snapshot.ts; raw QEMU restores the same
 * file with `-incoming fd:`) and cold-booted (the driver with snapshots off). Rounds alternate.
 * Under TCG where there is no usable KVM, and labelled so. Also the VMM's resident memory (VmRSS)
 * once the first command has run. Further series: airlock with a restricted network (the slot, its
 * egress proxy, the tap in its namespace and eth0 configured by the guest), attached and released
 * inside the timing, and with one read-only grant (never snapshotted: booted cold).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { AgentClient } from '../src/agent/client.ts';
import { resolveImage } from '../src/images/store.ts';
import type { Limits } from '../src/isolation/driver.ts';
import { findFileServer } from '../src/isolation/microvm/file-server.ts';
import { MicrovmDriver, type MicrovmSandbox } from '../src/isolation/microvm/index.ts';
import { GuestCounterFilter, handshake, handshakeBytes } from '../src/isolation/microvm/channel.ts';
import { defaultInitramfsInputs, ensureInitramfs } from '../src/isolation/microvm/initramfs.ts';
import { ensureGuestKernel } from '../src/isolation/microvm/kernel.ts';
import { detectAccel, hostTscKhz, qemuArgs, QEMU_BINARY, snapshotArgs, vmSizes, VMM_FD } from '../src/isolation/microvm/qemu.ts';
import { snapshotPath } from '../src/isolation/microvm/snapshot.ts';
import { ensureRootImage } from '../src/isolation/microvm/rootfs.ts';
import { removeEmptyParent } from '../src/isolation/cgroups/index.ts';
import { NetworkManager } from '../src/network/manager.ts';
import { isolatedConfig } from '../test/security/lib/isolated-config.ts';
import { releaseBenchConfig } from './config.ts';
import { summarize, timePaired, type Summary } from './stats.ts';
import type { AirlockConfig } from '../src/config/config.ts';
import { SandboxService } from '../src/sandbox/service.ts';
import { policyDirOf, readBundleHash } from '../src/policy/bundle-files.ts';

const LIMITS: Limits = { memoryMb: 256, cpuCores: 1, pids: 64, timeoutSeconds: 60, scratchMb: 16, outputBytes: 1 << 20, openFiles: 256 };

export interface MicrovmBench {
  accel: string;
  rounds: number;
  /** Wall ms from nothing to the EXIT of `true` (create + boot + handshake + exec), booted cold. */
  airlock: Summary;
  raw: Summary;
  /** The same, restored from the shape's snapshot. */
  restored: { airlock: Summary; raw: Summary; ratio: number; rssMb: { airlock: Summary; raw: Summary } };
  /** The same as `airlock`, with a restricted network attached (and released) inside the timing. */
  restricted: Summary;
  /** The same as `airlock`, with one read-only grant (its file server started and stopped inside the timing). */
  granted: Summary;
  ratio: number;
  /** VMM VmRSS in MiB after the first command. */
  rssMb: { airlock: Summary; raw: Summary };
  /** `true` run again and again in one running VM: a persistent sandbox through the service, and raw QEMU's agent, in turns. */
  exec: { airlock: Summary; raw: Summary; ratio: number };
}

function rssMb(pid: number): number {
  const kb = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN);
  return kb / 1024;
}

/** Runs `rounds` alternating rounds (after one warm-up of each). */
export async function benchMicrovm(rounds: number): Promise<MicrovmBench> {
  // Why its own state, cgroup parent and uid range: the bench must not touch a live deployment's.
  const config = isolatedConfig();
  const driver = new MicrovmDriver({ config });
  const coldDriver = new MicrovmDriver({ config, snapshots: false });
  const image = await resolveImage(config, config.defaultImage);
  const accel = detectAccel();
  const kernel = await ensureGuestKernel(config.stateDir, new Map());
  const initrd = await ensureInitramfs(config.stateDir, await defaultInitramfsInputs(config.stateDir, kernel), new Map(), new Map());
  const root = await ensureRootImage(config.stateDir, image, new Map());
  const args = qemuArgs(accel.accel, vmSizes(LIMITS.memoryMb, LIMITS.cpuCores), accel.accel === 'tcg' ? hostTscKhz() : undefined);
  let seq = 0;
  const networks = new NetworkManager({ config });
  const grantable = findFileServer() !== undefined;

  // A directory the sandbox's uid may read (what a read-only grant needs).
  const grantDir = mkdtempSync('/tmp/airlock-bench-grant-');
  chmodSync(grantDir, 0o755);
  const viaAirlock = async (restricted = false, grant = false, cold = false): Promise<[number, number]> => {
    const t0 = performance.now();
    const id = `bench-mvm-${process.pid}-${seq++}`;
    const attachment = restricted ? await networks.attach(id, { mode: 'restricted', allowedHosts: [], services: [] }) : undefined;
    const mounts = grant ? [{ hostPath: grantDir, sandboxPath: '/data', writable: false }] : [];
    const sandbox = (await (cold ? coldDriver : driver).create({ id, image, limits: LIMITS, env: { PATH: '/usr/bin:/bin' }, mounts, workdir: '/tmp', network: attachment?.sandboxNetwork ?? { kind: 'isolated' } })) as MicrovmSandbox;
    try {
      const proc = await sandbox.start({ argv: ['true'], stdin: false });
      proc.stdout.resume();
      proc.stderr.resume();
      const exit = await proc.exit;
      const ms = performance.now() - t0;
      if (exit.code !== 0) throw new Error(`bench run failed: ${JSON.stringify(exit)}`);
      return [ms, rssMb(sandbox.vmmPid as number)];
    } finally {
      await sandbox.destroy();
      await attachment?.release();
    }
  };

  // The snapshot the driver captured for this shape (its warm-up run), restored by raw QEMU too.
  const snapshot = snapshotPath(config.stateDir, { qemu: QEMU_BINARY, args, files: { kernel: kernel.vmlinuz, initrd, root } });
  /** Raw QEMU to the first `true`'s exit; `more`, when given, is run with the agent before the VM goes. */
  const raw = async (restore = false, more?: (exec: () => Promise<void>) => Promise<void>): Promise<[number, number]> => {
    const dir = mkdtempSync('/tmp/airlock-bench-mvm-');
    chmodSync(dir, 0o700);
    const secret = randomBytes(32);
    const t0 = performance.now();
    writeFileSync(`${dir}/secret`, secret, { mode: 0o400 });
    const fds = [root, kernel.vmlinuz, initrd, `${dir}/secret`, ...(restore ? [snapshot] : [])].map((p) => openSync(p, 'r'));
    const stdio: ('ignore' | 'pipe' | number)[] = ['ignore', 'ignore', 'ignore', 'ignore', 'pipe', ...fds.slice(0, 4), ...(restore ? ['ignore' as const, fds[4] as number] : [])];
    const qemu = spawn(QEMU_BINARY, [...args, ...snapshotArgs(restore ? 'restore' : undefined)], { stdio });
    for (const fd of fds) closeSync(fd);
    try {
      const socket = qemu.stdio[VMM_FD.control] as Socket;
      const rest = await handshake(socket, handshakeBytes(secret, LIMITS), new Promise(() => undefined));
      const filter = new GuestCounterFilter(() => undefined);
      filter.write(rest);
      socket.pipe(filter);
      const client = new AgentClient({ stdin: socket, stdout: filter });
      await client.ready();
      const execTrue = async () => {
        const result = await client.exec({ argv: ['true'], env: { PATH: '/usr/bin:/bin' }, cwd: '/tmp' }).exit;
        if (result.code !== 0) throw new Error(`raw run failed: ${JSON.stringify(result)}`);
      };
      await execTrue();
      const ms = performance.now() - t0;
      const rss = rssMb(qemu.pid as number);
      await more?.(execTrue);
      return [ms, rss];
    } finally {
      qemu.kill('SIGKILL');
      await new Promise((resolve) => qemu.once('close', resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  };

  try {
    // The warm-up: the first runs of each shape capture its snapshot.
    await viaAirlock();
    await viaAirlock(false, false, true);
    await raw();
    await raw(true);
    await viaAirlock(true);
    if (grantable) await viaAirlock(false, true);
    const series = { cold: [] as number[], raw: [] as number[], restored: [] as number[], rawRestored: [] as number[], restricted: [] as number[], granted: [] as number[] };
    const rss = { cold: [] as number[], raw: [] as number[], restored: [] as number[], rawRestored: [] as number[] };
    const take = (name: keyof typeof rss, [ms, mb]: [number, number]) => {
      series[name].push(ms);
      rss[name].push(mb);
    };
    for (let i = 0; i < rounds; i++) {
      take('cold', await viaAirlock(false, false, true));
      take('raw', await raw());
      take('restored', await viaAirlock());
      take('rawRestored', await raw(true));
      series.restricted.push((await viaAirlock(true))[0]);
      if (grantable) series.granted.push((await viaAirlock(false, true))[0]);
    }
    const exec = await execRoundTrips(config, (more) => raw(true, more), EXEC_ROUND_TRIPS);
    const airlock = summarize(series.cold);
    const rawSummary = summarize(series.raw);
    const restored = { airlock: summarize(series.restored), raw: summarize(series.rawRestored) };
    return {
      accel: accel.accel === 'kvm' ? 'KVM' : `TCG (${accel.reason})`,
      rounds,
      airlock,
      raw: rawSummary,
      restored: { ...restored, ratio: restored.airlock.p50 / restored.raw.p50, rssMb: { airlock: summarize(rss.restored), raw: summarize(rss.rawRestored) } },
      restricted: summarize(series.restricted),
      granted: summarize(series.granted),
      ratio: airlock.p50 / rawSummary.p50,
      rssMb: { airlock: summarize(rss.cold), raw: summarize(rss.raw) },
      exec,
    };
  } finally {
    await networks.close();
    removeEmptyParent(config.cgroupParent);
    rmSync(grantDir, { recursive: true, force: true });
    rmSync(config.runDir, { recursive: true, force: true });
    releaseBenchConfig(config);
  }
}

/** Execs timed in one running VM, each way. */
const EXEC_ROUND_TRIPS = 40;

/**
 * `true` again and again in one running VM: through the service into a persistent microvm sandbox
 * (its exec path: admission-free service call, the agent over the channel), and with raw QEMU's
 * agent client, `n` each in turns after 5 warm-ups.
 */
async function execRoundTrips(config: AirlockConfig, rawVm: (more: (exec: () => Promise<void>) => Promise<void>) => Promise<[number, number]>, n: number): Promise<MicrovmBench['exec']> {
  const service = new SandboxService({ config: { ...config, service: { ...config.service, pools: [] } }, policyBundleHash: await readBundleHash(policyDirOf(config.policy)) });
  await service.start();
  try {
    const running = await service.create({ runtime: 'microvm', limits: { memoryMb: LIMITS.memoryMb, cpuCores: LIMITS.cpuCores }, metadata: {}, env: {}, mounts: [] });
    const viaService = async () => {
      const session = await service.exec(running.sandbox_id, { argv: ['true'], env: {}, stdin: false, timeoutMs: 30_000 });
      const result = await session.result;
      if (result.exit_code !== 0) throw new Error(`exec failed: ${JSON.stringify(result)}`);
    };
    let pairs: [number[], number[]] = [[], []];
    await rawVm(async (rawExec) => {
      pairs = await timePaired(n, 5, viaService, rawExec);
    });
    await service.kill(running.sandbox_id);
    const [airlock, raw] = [summarize(pairs[0]), summarize(pairs[1])];
    return { airlock, raw, ratio: airlock.p50 / raw.p50 };
  } finally {
    await service.shutdown();
  }
}

/** The bench's lines for the report. */
export function microvmLines(b: MicrovmBench): string[] {
  const f = (x: number) => x.toFixed(0);
  return [
    `microvm (QEMU microvm, ${b.accel}; ${b.rounds} alternating rounds), restored from the shape's snapshot to the first command's exit (\`true\`): airlock p50 ${f(b.restored.airlock.p50)} ms (${f(b.restored.airlock.min)}–${f(b.restored.airlock.max)}, p95 ${f(b.restored.airlock.p95)}), raw QEMU restoring the same snapshot p50 ${f(b.restored.raw.p50)} ms (${f(b.restored.raw.min)}–${f(b.restored.raw.max)}, p95 ${f(b.restored.raw.p95)}): ${b.restored.ratio.toFixed(2)}×; VMM resident memory after the command: airlock p50 ${f(b.restored.rssMb.airlock.p50)} MiB, raw ${f(b.restored.rssMb.raw.p50)} MiB`,
    `microvm (QEMU microvm, ${b.accel}; same rounds), cold start to the first command's exit (\`true\`): airlock p50 ${f(b.airlock.p50)} ms (${f(b.airlock.min)}–${f(b.airlock.max)}, p95 ${f(b.airlock.p95)}), raw QEMU with the same flags and guest p50 ${f(b.raw.p50)} ms (${f(b.raw.min)}–${f(b.raw.max)}, p95 ${f(b.raw.p95)}): ${b.ratio.toFixed(2)}×`,
    `microvm with a restricted network (slot, egress proxy, tap; attached and released inside the timing; restored), same rounds: airlock p50 ${f(b.restricted.p50)} ms (${f(b.restricted.min)}–${f(b.restricted.max)}, p95 ${f(b.restricted.p95)}), +${f(b.restricted.p50 - b.restored.airlock.p50)} ms over network none restored`,
    ...(b.granted.n === 0 ? ['microvm with a read-only grant: not measured (no virtiofsd on this host)'] : [`microvm with one read-only grant (virtio-fs, its file server started and stopped inside the timing), same rounds: airlock p50 ${f(b.granted.p50)} ms (${f(b.granted.min)}–${f(b.granted.max)}, p95 ${f(b.granted.p95)}), ${b.granted.p50 >= b.airlock.p50 ? '+' : '−'}${f(Math.abs(b.granted.p50 - b.airlock.p50))} ms against no grant, cold`]),
    `microvm exec round trip of \`true\` in a running VM (${b.exec.airlock.n} in turns): a persistent sandbox through the service p50 ${b.exec.airlock.p50.toFixed(1)} ms (p95 ${b.exec.airlock.p95.toFixed(1)}), raw QEMU's agent p50 ${b.exec.raw.p50.toFixed(1)} ms (p95 ${b.exec.raw.p95.toFixed(1)}): ${b.exec.ratio.toFixed(2)}×`,
    `microvm VMM resident memory after the first command, cold (-m ${vmSizes(LIMITS.memoryMb, LIMITS.cpuCores).guestMb}): airlock p50 ${f(b.rssMb.airlock.p50)} MiB, raw ${f(b.rssMb.raw.p50)} MiB`,
  ];
}
