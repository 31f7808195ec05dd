/** `airlock run -- /bin/true` end to end, against a bare `node -e ''` start. */
import { spawnWait } from './spawn-wait.ts';
import { summarize, timePaired } from './stats.ts';
import type { PairResult } from './namespace.ts';

export async function benchCli(n: number): Promise<PairResult> {
  const node = process.execPath;
  const [subject, baseline] = await timePaired(
    n,
    2,
    () => spawnWait(node, ['bin/airlock.js', 'run', '--', '/bin/true']),
    () => spawnWait(node, ['-e', '']),
  );
  return {
    name: 'CLI: airlock run -- /bin/true',
    subject: summarize(subject),
    baseline: summarize(baseline),
    subjectLabel: 'airlock run',
    baselineLabel: "node -e ''",
  };
}
