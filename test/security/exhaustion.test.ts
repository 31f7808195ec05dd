/**
 * T17 exhaustion: each limit stops its abuse and is reported as its own termination reason; the
 * host is unaffected and nothing of the sandbox is left behind.
 */
import { before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { Limits } from '../../src/isolation/driver.ts';
import type { ExecutionResult, TerminationReason } from '../../src/sandbox/result.ts';
import { lineOf, parseProbeOutput } from './lib/probes.ts';
import { hostBaseline, leftoverMark, type HostBaseline } from './lib/host.ts';
import { RUNTIMES, runInSandbox } from './lib/runtime.ts';
import { gapAware, runtimeCase, useSuite, type Ready } from './lib/suite.ts';

const suite = useSuite();
const EMFILE = 24;

/** Python that grows one bytearray by 1 MiB at a time, touching every byte, until killed. */
const BALLOON = 'b = bytearray()\nwhile True:\n    b.extend(b"x" * (1 << 20))\n';

let baseline: HostBaseline;
before(() => {
  baseline = hostBaseline();
});

/** Runs an abuse case and checks the reason, then that the host is clean and still works. */
async function abuse(
  ready: Ready,
  argv: (probe: string) => string[],
  limits: Partial<Limits>,
  expected: TerminationReason,
): Promise<ExecutionResult> {
  const kit = suite.kit();
  const mark = leftoverMark(suite.config, baseline, [kit.hostDir]);
  const result = await runInSandbox(ready, suite.config, argv(kit.probe), { mounts: [kit.mount], limits });
  const summary = `${result.termination_reason} (exit ${result.exit_code}, ${result.execution_time_seconds} s): ${(result.error ?? '').slice(0, 300)}`;
  assert.equal(result.termination_reason, expected, `expected ${expected}, got ${summary}`);
  await mark.assertNoneAdded('the sandbox left something behind');
  // The host can still start processes: the limits stayed inside the sandbox's cgroup.
  assert.equal(spawnSync('/bin/true').status, 0, 'the host cannot spawn a process any more');
  return result;
}

for (const runtime of RUNTIMES) {
  describe(`${runtime}: T17 exhaustion`, () => {
    runtimeCase(suite, runtime, 'fork bomb stops at the pids limit -> pids_limit', async (_t, ready) => {
      await abuse(ready, (probe) => [probe, 'forkbomb'], { pids: 32, timeoutSeconds: 30 }, 'pids_limit');
    });

    runtimeCase(suite, runtime, 'memory balloon is OOM-killed in its cgroup -> memory_limit', async (_t, ready) => {
      await abuse(ready, () => ['python3', '-c', BALLOON], { memoryMb: 64, timeoutSeconds: 30 }, 'memory_limit');
    });

    runtimeCase(suite, runtime, 'filling scratch stops at its size -> scratch_limit', async (_t, ready) => {
      await abuse(ready, () => ['/bin/sh', '-c', 'dd if=/dev/zero of=/tmp/fill bs=1M; exit 1'], { scratchMb: 8, timeoutSeconds: 30 }, 'scratch_limit');
    });

    runtimeCase(suite, runtime, 'fd flood stops at RLIMIT_NOFILE -> open_files_limit', async (t, ready) => {
      const mark = leftoverMark(suite.config, baseline, [suite.kit().hostDir]);
      const result = await runInSandbox(ready, suite.config, [suite.kit().probe, 'fdflood'], {
        mounts: [suite.kit().mount],
        limits: { openFiles: 256, timeoutSeconds: 30 },
      });
      const flood = lineOf(parseProbeOutput(result.output), 'fdflood');
      // The limit itself holds: the flood ends with EMFILE below 256 descriptors.
      assert.equal(flood.errno, EMFILE, `fd flood did not end with EMFILE: ${JSON.stringify(flood)}`);
      assert.ok(Number(flood.opened) < 256, `opened ${String(flood.opened)} descriptors with RLIMIT_NOFILE 256`);
      // And it is reported as its own reason, not as a plain failure.
      await gapAware(t, runtime, 'fdflood:reason', () => {
        assert.equal(result.termination_reason, 'open_files_limit', `fd flood reported as ${result.termination_reason} (exit ${result.exit_code})`);
      });
      await mark.assertNoneAdded('the sandbox left something behind');
    });

    runtimeCase(suite, runtime, 'output flood stops at the output cap -> output_limit', async (_t, ready) => {
      const result = await abuse(ready, () => ['/usr/bin/yes', 'airlock-output-flood'], { outputBytes: 65_536, timeoutSeconds: 30 }, 'output_limit');
      assert.ok(result.output.length + (result.error ?? '').length <= 65_536, 'captured output exceeds the cap');
    });

    runtimeCase(suite, runtime, 'sleeper past its wall-clock limit -> timeout', async (_t, ready) => {
      const result = await abuse(ready, (probe) => [probe, 'sleep', '30'], { timeoutSeconds: 1 }, 'timeout');
      assert.ok(result.execution_time_seconds < 10, `timeout took ${result.execution_time_seconds} s`);
    });
  });
}
