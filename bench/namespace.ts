/**
 * Driver-level create+run+destroy of /bin/true on `namespace`, against the raw bubblewrap command
 * line the driver generates (same flags, seccomp filter and uid; no cgroup, no supervision),
 * both spawned from this process, alternately.
 */
import type { AirlockConfig } from '../src/config/config.ts';
import type { Image } from '../src/images/image.ts';
import type { SandboxSpec } from '../src/isolation/driver.ts';
import { NamespaceDriver } from '../src/isolation/namespace/driver.ts';
import { buildBwrapArgs } from '../src/isolation/namespace/bwrap-args.ts';
import { procMaskBinds } from '../src/isolation/proc-masks.ts';
import { compileBpf, DEFAULT_PROFILE, hostArch } from '../src/isolation/seccomp/index.ts';
import { findExecutable } from '../src/host/which.ts';
import { driverCycle, specMaker } from './driver-cycle.ts';
import { spawnWait } from './spawn-wait.ts';
import { summarize, timePaired, type Summary } from './stats.ts';

export interface PairResult {
  name: string;
  subject: Summary;
  baseline: Summary;
  subjectLabel: string;
  baselineLabel: string;
}


/**
 * The raw bubblewrap line the driver generates for `spec` (same flags, seccomp filter and uid; no
 * cgroup, no supervision, and none of the open-file and core limits the driver's launch step sets:
 * the engine's own ceiling), as a function that spawns it once and waits.
 */
export function rawBwrapRunner(config: AirlockConfig, rawSpec: SandboxSpec): () => Promise<void> {
  const bwrap = findExecutable('bwrap') as string;
  const bpf = compileBpf(DEFAULT_PROFILE, hostArch());
  const args = buildBwrapArgs({ spec: rawSpec, command: ['/bin/true'], mountFds: [], procMasks: procMaskBinds(config.stateDir) });
  // The raw line drops only the two handshake fds (nothing waits on them without a driver).
  const rawArgs = args.filter((a, i) => !['--info-fd', '--block-fd'].includes(a) && !['--info-fd', '--block-fd'].includes(args[i - 1] ?? ''));
  const uid = config.hostUidBase + config.hostUidCount - 1;
  return () =>
    spawnWait(bwrap, rawArgs, {
      uid,
      gid: uid,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    }, bpf);
}

export async function benchNamespace(config: AirlockConfig, image: Image, n: number): Promise<PairResult> {
  const driver = new NamespaceDriver({ config });
  const spec = specMaker(config, image, 'bench');
  const viaDriver = () => driverCycle(driver, spec());
  const raw = rawBwrapRunner(config, spec());
  const [subject, baseline] = await timePaired(n, 5, viaDriver, raw);
  return {
    name: 'namespace: create+run+destroy /bin/true',
    subject: summarize(subject),
    baseline: summarize(baseline),
    subjectLabel: 'NamespaceDriver',
    baselineLabel: 'raw bwrap line',
  };
}
