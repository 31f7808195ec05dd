/**
 * Driver-level create+run+destroy of /bin/true on `gvisor`, against two plain `runsc run`s with the
 * same runsc hardening flags: of a minimal bundle (the image as a read-only root, /bin/true as
 * nobody with no capabilities, runsc's default mounts, the same cgroup limits), and of the bundle
 * the driver prepares (same config.json, flags and cgroup; no supervision, no bundle set-up or
 * teardown), and the minimal bundle again with the driver's seccomp filter. All spawned from this
 * process, in turn, so machine noise hits them alike.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import type { AirlockConfig } from '../src/config/config.ts';
import type { Image } from '../src/images/image.ts';
import { GvisorDriver, buildOciSpec, hostPidsMax, parseRunscFlags } from '../src/isolation/gvisor/index.ts';
import { bundlePaths } from '../src/isolation/gvisor/bundle.ts';
import { RUNSC_ENV, runscGlobalArgs } from '../src/isolation/gvisor/runsc.ts';
import { DEFAULT_PROFILE, hostArch, toOciSeccomp } from '../src/isolation/seccomp/index.ts';
import { findExecutable } from '../src/host/which.ts';
import { driverCycle, specMaker } from './driver-cycle.ts';
import { spawnWait } from './spawn-wait.ts';
import { summarize, timePaired } from './stats.ts';
import type { PairResult } from './namespace.ts';
import { execFileSync } from 'node:child_process';
import { ensureAgent } from '../src/agent/build.ts';

/** A minimal OCI bundle: what `runsc spec` writes, with the image as read-only root and the driver's limits. */
function minimalSpec(rootfs: string, cgroupsPath: string, limits: AirlockConfig['defaults'], args = ['/bin/true'], seccomp?: object): object {
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 65534, gid: 65534 },
      args,
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      cwd: '/',
      capabilities: {},
      noNewPrivileges: true,
    },
    root: { path: rootfs, readonly: true },
    hostname: 'runsc',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs' },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      cgroupsPath,
      resources: {
        memory: { limit: limits.memoryMb * 2 ** 20 },
        cpu: { quota: Math.round(Math.max(1, limits.cpuCores) * 100_000), period: 100_000 },
        pids: { limit: hostPidsMax(limits.pids) },
      },
      ...(seccomp === undefined ? {} : { seccomp }),
    },
  };
}

/**
 * The image under a throwaway overlay, mounted at `dir/root`. Why: runsc's gofer (root) creates
 * missing mount points (dev/pts, dev/fuse, …) in a bundle's root even when the spec marks it
 * read-only, so a bundle's root must never be the image store itself.
 */
function overlayRoot(dir: string, image: string): { path: string; release: () => void } {
  // The upper directory's mode becomes the root's: 0755 like an image root, inside a 0700 parent.
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const sub of ['upper', 'work', 'root']) mkdirSync(`${dir}/${sub}`, { mode: 0o755 });
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${image},upperdir=${dir}/upper,workdir=${dir}/work`, `${dir}/root`]);
  return { path: `${dir}/root`, release: () => execFileSync('umount', [`${dir}/root`]) };
}

export async function benchGvisor(config: AirlockConfig, image: Image, n: number): Promise<PairResult[]> {
  const driver = new GvisorDriver({ config });
  const spec = specMaker(config, image, 'bench-g');
  const viaDriver = () => driverCycle(driver, spec());

  // A bundle prepared by the driver (overlay root, scratch, cgroup), reused by every raw run.
  const holderSpec = spec();
  const holder = await driver.create(holderSpec);
  const paths = bundlePaths(driver.baseDir, holderSpec.id);
  const runsc = findExecutable('runsc') as string;
  const flags = parseRunscFlags(execFileSync(runsc, ['flags'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
  // The same command line the driver generates: the agent's init (in the root, see agent-layer.ts) wrapping the command.
  const agentDir = (await ensureAgent(config)).dir;
  const oci = buildOciSpec({ ...holderSpec, agentDir }, { argv: ['/bin/true'], stdin: false }, toOciSeccomp(DEFAULT_PROFILE, hostArch()), {
    rootfs: paths.root,
    scratchDir: paths.scratch,
    emptyFile: paths.emptyFile,
    emptyDir: paths.emptyDir,
    mountSources: [],
    cgroupsPath: `/${config.cgroupParent}/${holderSpec.id}`,
    hostPidsMax: hostPidsMax(config.defaults.pids),
    init: true,
    agentInRoot: true,
  });
  writeFileSync(paths.config, JSON.stringify(oci), { mode: 0o600 });
  const global = runscGlobalArgs(flags, { stateDir: driver.stateDir });
  let rawSeq = 0;
  const raw = () => spawnWait(runsc, [...global, 'run', '--bundle', paths.dir, `${holderSpec.id}-raw-${rawSeq++}`], { env: RUNSC_ENV });
  // runsc creates (and removes) the minimal bundle's cgroup itself, under the configuration's parent.
  const minimalDir = `${driver.baseDir}/bench-minimal-${process.pid}`;
  mkdirSync(minimalDir, { recursive: true, mode: 0o700 });
  const minimalRoot = overlayRoot(`${minimalDir}-rootfs`, image.rootfs);
  writeFileSync(`${minimalDir}/config.json`, JSON.stringify(minimalSpec(minimalRoot.path, `/${config.cgroupParent}/bench-minimal-${process.pid}`, config.defaults)), { mode: 0o600 });
  const minimal = () => spawnWait(runsc, [...global, 'run', '--bundle', minimalDir, `bench-minimal-${process.pid}-${rawSeq++}`], { env: RUNSC_ENV });
  // The same minimal bundle with the driver's seccomp filter: what the filter (a control, applied by
  // the sandbox kernel at boot) costs, apart from what the driver adds.
  const filteredDir = `${minimalDir}-filtered`;
  mkdirSync(filteredDir, { recursive: true, mode: 0o700 });
  writeFileSync(`${filteredDir}/config.json`, JSON.stringify(minimalSpec(minimalRoot.path, `/${config.cgroupParent}/bench-minimal-${process.pid}`, config.defaults, ['/bin/true'], toOciSeccomp(DEFAULT_PROFILE, hostArch()))), { mode: 0o600 });
  const filtered = () => spawnWait(runsc, [...global, 'run', '--bundle', filteredDir, `bench-minimal-${process.pid}-${rawSeq++}`], { env: RUNSC_ENV });
  try {
    const samples: [number[], number[], number[], number[]] = [[], [], [], []];
    const fns = [viaDriver, minimal, raw, filtered];
    for (let i = -2; i < n; i++) {
      for (const [k, fn] of fns.entries()) {
        const t0 = performance.now();
        await fn();
        if (i >= 0) samples[k]?.push(performance.now() - t0);
      }
    }
    const subject = summarize(samples[0]);
    const [trace, debug] = await traceCost(runsc, flags, driver.stateDir, `${minimalDir}-fork`, minimalRoot.path, `/${config.cgroupParent}/bench-minimal-${process.pid}`, config.defaults, n);
    return [
      trace,
      debug,
      { name: 'gvisor: create+run+destroy /bin/true', subject, baseline: summarize(samples[1]), subjectLabel: 'GvisorDriver', baselineLabel: 'plain runsc run (minimal bundle, same flags)' },
      { name: 'gvisor: create+run+destroy /bin/true', subject, baseline: summarize(samples[3]), subjectLabel: 'GvisorDriver', baselineLabel: 'plain runsc run (minimal bundle, same flags, the driver\'s seccomp filter)' },
      { name: 'gvisor: create+run+destroy /bin/true', subject, baseline: summarize(samples[2]), subjectLabel: 'GvisorDriver', baselineLabel: 'raw runsc run (the driver\'s bundle)' },
    ];
  } finally {
    rmSync(minimalDir, { recursive: true, force: true });
    rmSync(filteredDir, { recursive: true, force: true });
    minimalRoot.release();
    rmSync(`${minimalDir}-rootfs`, { recursive: true, force: true });
    await holder.destroy();
  }
}

/**
 * What the logs the driver keeps cost (runsc's default level, the clone-family trace the refused
 * guest forks are counted from): a plain runsc run of the minimal bundle running 50 fork+exec of
 * /bin/true, with the driver's log and trace flags against without, in turn.
 */
async function traceCost(runsc: string, flags: ReturnType<typeof parseRunscFlags>, stateDir: string, dir: string, rootfs: string, cgroupsPath: string, limits: AirlockConfig['defaults'], n: number): Promise<[PairResult, PairResult]> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const script = 'i=0; while [ $i -lt 50 ]; do /bin/true; i=$((i+1)); done';
  writeFileSync(`${dir}/config.json`, JSON.stringify(minimalSpec(rootfs, cgroupsPath, limits, ['/bin/sh', '-c', script])), { mode: 0o600 });
  let seq = 0;
  const runWith = (logDir: string | undefined, seccompDenials = false) => async () => {
    await spawnWait(runsc, [...runscGlobalArgs(flags, { stateDir, seccompDenials, ...(logDir === undefined ? {} : { logDir }) }), 'run', '--bundle', dir, `bench-trace-${process.pid}-${seq++}`], { env: RUNSC_ENV });
    if (logDir !== undefined) for (const log of ['run.log', 'boot.log']) rmSync(`${logDir}/${log}`, { force: true });
  };
  try {
    const [traced, plain] = await timePaired(n, 2, runWith(dir), runWith(undefined));
    // What reporting seccomp denials adds: the sandbox kernel's log at debug level (the one level that reports them).
    const [debug, info] = await timePaired(n, 2, runWith(dir, true), runWith(dir));
    return [
      { name: 'gvisor: sh running 50 × /bin/true (plain runsc run)', subject: summarize(traced), baseline: summarize(plain), subjectLabel: 'with the driver\'s logs + clone trace', baselineLabel: 'without' },
      { name: 'gvisor: sh running 50 × /bin/true (plain runsc run)', subject: summarize(debug), baseline: summarize(info), subjectLabel: 'logs at debug level (seccomp denial reporting)', baselineLabel: 'the driver\'s default logs' },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
