/**
 * Driver-level create+run+destroy of /bin/true on `namespace`, against the raw bubblewrap command
 * line the driver generates (same flags, seccomp filter and uid; no cgroup, no supervision),
 * both spawned from this process, alternately.
 */
import type { AirlockConfig } from '../src/config/config.ts';
import type { Image } from '../src/images/image.ts';
import type { SandboxSpec } from '../src/isolation/driver.ts';
import { NamespaceDriver } from '../src/isolation/namespace/driver.ts';
import { buildBwrapArgs, buildPrlimitArgs } from '../src/isolation/namespace/bwrap-args.ts';
import { compileBpf, DEFAULT_PROFILE, hostArch } from '../src/isolation/seccomp/index.ts';
import { findExecutable } from '../src/isolation/which.ts';
import { BASE_ENV } from '../src/cli/run-options.ts';
import { spawnWait } from './spawn-wait.ts';
import { summarize, timePaired, type Summary } from './stats.ts';

export interface PairResult {
  name: string;
  subject: Summary;
  baseline: Summary;
  subjectLabel: string;
  baselineLabel: string;
}

/** Drains a started sandbox's output and waits for it to end. */
async function runToEnd(proc: { stdout: NodeJS.ReadableStream; stderr: NodeJS.ReadableStream; exit: Promise<unknown> }): Promise<void> {
  proc.stdout.resume();
  proc.stderr.resume();
  await proc.exit;
}

export async function benchNamespace(config: AirlockConfig, image: Image, n: number): Promise<PairResult> {
  const driver = new NamespaceDriver({ config });
  let seq = 0;
  const spec = (): SandboxSpec => ({
    id: `bench-${process.pid}-${seq++}`,
    image,
    limits: config.defaults,
    env: { ...BASE_ENV },
    mounts: [],
    workdir: '/tmp',
    network: 'none',
  });
  const viaDriver = async () => {
    const sandbox = await driver.create(spec());
    try {
      await runToEnd(await sandbox.start({ argv: ['/bin/true'], stdin: false }));
    } finally {
      await sandbox.destroy();
    }
  };
  const bwrap = findExecutable('bwrap') as string;
  const prlimit = findExecutable('prlimit') as string;
  const bpf = compileBpf(DEFAULT_PROFILE, hostArch());
  const rawSpec = spec();
  const args = buildBwrapArgs({ spec: rawSpec, command: ['/bin/true'], mountFds: [] });
  // The raw line drops only the two handshake fds (nothing waits on them without a driver).
  const rawArgs = args.filter((a, i) => !['--info-fd', '--block-fd'].includes(a) && !['--info-fd', '--block-fd'].includes(args[i - 1] ?? ''));
  const uid = config.hostUidBase + config.hostUidCount - 1;
  const raw = () =>
    spawnWait(prlimit, [...buildPrlimitArgs(rawSpec), bwrap, ...rawArgs], {
      uid,
      gid: uid,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    }, bpf);
  const [subject, baseline] = await timePaired(n, 5, viaDriver, raw);
  return {
    name: 'namespace: create+run+destroy /bin/true',
    subject: summarize(subject),
    baseline: summarize(baseline),
    subjectLabel: 'NamespaceDriver',
    baselineLabel: 'raw prlimit+bwrap line',
  };
}
