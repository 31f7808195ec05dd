/**
 * `airlock run -- /bin/true` end to end (the binary a user runs, `airlock` on the PATH, not
 * `npx`), against a bare `node -e ''` start and against `srt -c true` (@anthropic-ai/sandbox-runtime,
 * a devDependency), and the same run handed to a running `airlock serve` over its unix socket
 * (`--socket`), all taking turns so that machine noise hits them alike. With
 * `AIRLOCK_BENCH_CLI_BEFORE=DIR` (another checkout, e.g. `git archive REV | tar -x -C DIR` with
 * node_modules linked), that tree's `airlock run` takes its turn too, for a before/after in one run.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnWait } from './spawn-wait.ts';
import { summarize } from './stats.ts';
import type { PairResult } from './namespace.ts';
import { socketServer } from '../test/integration/serve-on-socket.ts';
import { benchConfig } from './config.ts';

const SRT = 'node_modules/.bin/srt';

/** Times each of `fns` once per round, in turn, after `warmup` untimed rounds. */
async function timeRotating(n: number, warmup: number, fns: (() => Promise<void>)[]): Promise<number[][]> {
  const samples = fns.map(() => [] as number[]);
  for (let i = -warmup; i < n; i++) {
    for (const [k, fn] of fns.entries()) {
      const t0 = performance.now();
      await fn();
      if (i >= 0) samples[k]?.push(performance.now() - t0);
    }
  }
  return samples;
}

export async function benchCli(n: number): Promise<PairResult[]> {
  // The run handed to a running server: `airlock serve` on the bench's isolated configuration (the
  // host's drift-monitor linger, as a deployed server has it) and a socket of its own.
  const server = socketServer(benchConfig());
  await server.start();
  try {
    return await benchCliAgainst(n, server.socket);
  } finally {
    const problems = await server.stop();
    if (problems.length > 0) process.stderr.write(`bench cli cleanup: ${problems.join('; ')}\n`);
  }
}

async function benchCliAgainst(n: number, socket: string): Promise<PairResult[]> {
  const node = process.execPath;
  const airlock = () => spawnWait(node, ['bin/airlock.js', 'run', '--', '/bin/true']);
  const remote = () => spawnWait(node, ['bin/airlock.js', 'run', '--socket', socket, '--', '/bin/true']);
  const bare = () => spawnWait(node, ['-e', '']);
  // srt needs bubblewrap, socat and ripgrep; without them it is left out, and the line says so.
  const srtWorks = existsSync(SRT) && (await spawnWait(SRT, ['-c', 'true']).then(() => true, () => false));
  const srt = () => spawnWait(SRT, ['-c', 'true']);
  const beforeTree = process.env['AIRLOCK_BENCH_CLI_BEFORE'];
  const before = () => spawnWait(node, [join(beforeTree ?? '', 'bin/airlock.js'), 'run', '--', '/bin/true']);
  const fns = [airlock, bare, remote, ...(srtWorks ? [srt] : []), ...(beforeTree === undefined ? [] : [before])];
  const [subject, baseline, served, ...rest] = await timeRotating(n, 2, fns);
  const other = srtWorks ? rest.shift() : undefined;
  const previous = rest.shift();
  const s = summarize(subject as number[]);
  const r = summarize(served as number[]);
  const nodeStart = summarize(baseline as number[]);
  const pairs: PairResult[] = [
    { name: 'CLI: airlock run -- /bin/true', subject: s, baseline: nodeStart, subjectLabel: 'airlock run', baselineLabel: "node -e ''" },
    { name: 'CLI through a running server: airlock run --socket S -- /bin/true', subject: r, baseline: nodeStart, subjectLabel: 'airlock run --socket', baselineLabel: "node -e ''" },
  ];
  if (other !== undefined) {
    const srtRun = summarize(other);
    pairs.push({ name: 'CLI: airlock run -- /bin/true vs srt', subject: s, baseline: srtRun, subjectLabel: 'airlock run', baselineLabel: 'srt -c true' });
    pairs.push({ name: 'CLI through a running server vs srt', subject: r, baseline: srtRun, subjectLabel: 'airlock run --socket', baselineLabel: 'srt -c true' });
  } else {
    process.stderr.write('bench cli: srt -c true does not run here (install the devDependencies, bubblewrap, socat and ripgrep): left out\n');
  }
  if (previous !== undefined) {
    pairs.push({ name: `CLI: airlock run -- /bin/true vs the tree in ${beforeTree}`, subject: s, baseline: summarize(previous), subjectLabel: 'airlock run', baselineLabel: 'before' });
  }
  return pairs;
}
