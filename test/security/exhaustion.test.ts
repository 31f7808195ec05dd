/**
 * T17 exhaustion: each limit stops its abuse and is reported as its own termination reason; the
 * host is unaffected and nothing of the sandbox is left behind.
 */
import { before, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Limits } from '../../src/isolation/driver.ts';
import type { ExecutionResult, TerminationReason } from '../../src/sandbox/result.ts';
import { lineOf, parseProbeOutput } from './lib/probes.ts';
import { hostBaseline, leftoverMark, type HostBaseline } from './lib/host.ts';
import { probeLimits, RUNTIMES, runInSandbox } from './lib/runtime.ts';
import { assertHostUnaffected, monitorHost, pidsParentOf, readHost } from './lib/host-monitor.ts';
import { gapAware, runtimeCase, useSuite, type Ready } from './lib/suite.ts';

const suite = useSuite();
const EMFILE = 24;

/** Python that grows one bytearray by 1 MiB at a time, touching every byte, until killed. */
const BALLOON = 'b = bytearray()\nwhile True:\n    b.extend(b"x" * (1 << 20))\n';

let baseline: HostBaseline;
before(() => {
  baseline = hostBaseline();
});

/** Runs an abuse case and checks the reason, that the host was unaffected throughout (measured), and that it is clean. */
async function abuse(
  ready: Ready,
  argv: (probe: string) => string[],
  limits: Partial<Limits>,
  expected: TerminationReason,
): Promise<ExecutionResult> {
  const kit = suite.kit();
  const mark = leftoverMark(suite.config, baseline, [kit.hostDir]);
  const before = readHost();
  const monitor = monitorHost(pidsParentOf(suite.config));
  // Stopped however the run ends, so no probing outlives the case.
  const result = await runInSandbox(ready, suite.config, argv(kit.probe), { mounts: [kit.mount], limits }).finally(() => monitor.stop());
  const pressure = await monitor.stop();
  const summary = `${result.termination_reason} (exit ${result.exit_code}, ${result.execution_time_seconds} s): ${(result.error ?? '').slice(0, 300)}`;
  assert.equal(result.termination_reason, expected, `expected ${expected}, got ${summary}`);
  // Measured while the sandbox ran: the limits kept the abuse inside its cgroup.
  assertHostUnaffected(before, pressure, probeLimits(suite.config, limits).memoryMb);
  await mark.assertNoneAdded('the sandbox left something behind');
  return result;
}

// microvm too: the guest's own limits, reported through its init.
for (const runtime of [...RUNTIMES, 'microvm'] as const) {
  describe(`${runtime}: T17 exhaustion`, () => {
    runtimeCase(suite, runtime, 'fork bomb stops at the pids limit -> pids_limit', async (_t, ready) => {
      await abuse(ready, (probe) => [probe, 'forkbomb'], { pids: 32, timeoutSeconds: 30 }, 'pids_limit');
    });

    runtimeCase(suite, runtime, 'memory balloon is OOM-killed in its cgroup -> memory_limit', async (_t, ready) => {
      await abuse(ready, () => ['python3', '-c', BALLOON], { memoryMb: 64, timeoutSeconds: 30 }, 'memory_limit');
    });

    runtimeCase(suite, runtime, 'filling scratch stops at its size -> scratch_limit', async (_t, ready) => {
      // os.stat, not stat(1): the sandbox kernel of runsc 20221219 refuses statx with EINVAL.
      const report = 'import os; s = os.stat("/tmp/fill"); print(f"size={s.st_size} blocks={s.st_blocks} of=512")';
      const script = `dd if=/dev/zero of=/tmp/fill bs=1M 2>/dev/null; python3 -c '${report}'; exit 1`;
      const result = await abuse(ready, () => ['/bin/sh', '-c', script], { scratchMb: 8, timeoutSeconds: 30 }, 'scratch_limit');
      // Measured on the tmpfs itself: the file stopped at the scratch size (its allocation at most
      // one 4 KiB block beyond), and it really filled it (the limit, not something else, stopped it).
      const match = /size=(\d+) blocks=(\d+) of=(\d+)/.exec(result.output);
      assert.ok(match !== null, `no size reported: ${result.output} ${result.error ?? ''}`);
      const [size, allocated] = [Number(match[1]), Number(match[2]) * Number(match[3])];
      const limit = 8 * 1024 * 1024;
      assert.ok(size <= limit && allocated <= limit + 4096, `the scratch file grew to ${size} bytes (${allocated} allocated) on an 8 MiB scratch`);
      assert.ok(size >= limit - 1024 * 1024, `the scratch file stopped at ${size} bytes, well short of the 8 MiB limit`);
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
