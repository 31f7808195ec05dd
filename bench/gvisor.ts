/**
 * Driver-level create+run+destroy of /bin/true on `gvisor`, against the raw `runsc run` of the
 * same bundle the driver prepares (same config.json, flags and cgroup; no supervision, no bundle
 * set-up or teardown), both spawned from this process, alternately.
 */
import { writeFileSync } from 'node:fs';
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

export async function benchGvisor(config: AirlockConfig, image: Image, n: number): Promise<PairResult> {
  const driver = new GvisorDriver({ config });
  const spec = specMaker(config, image, 'bench-g');
  const viaDriver = () => driverCycle(driver, spec());

  // A bundle prepared by the driver (overlay root, scratch, cgroup), reused by every raw run.
  const holderSpec = spec();
  const holder = await driver.create(holderSpec);
  const paths = bundlePaths(driver.baseDir, holderSpec.id);
  const runsc = findExecutable('runsc') as string;
  const flags = parseRunscFlags(execFileSync(runsc, ['flags'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
  // The same command line the driver generates: the agent's init mounted and wrapping the command.
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
  });
  writeFileSync(paths.config, JSON.stringify(oci), { mode: 0o600 });
  const global = runscGlobalArgs(flags, { stateDir: driver.stateDir });
  let rawSeq = 0;
  const raw = () => spawnWait(runsc, [...global, 'run', '--bundle', paths.dir, `${holderSpec.id}-raw-${rawSeq++}`], { env: RUNSC_ENV });
  try {
    const [subject, baseline] = await timePaired(n, 2, viaDriver, raw);
    return {
      name: 'gvisor: create+run+destroy /bin/true',
      subject: summarize(subject),
      baseline: summarize(baseline),
      subjectLabel: 'GvisorDriver',
      baselineLabel: 'raw runsc run (same bundle)',
    };
  } finally {
    await holder.destroy();
  }
}
