/**
 * Limits must be reported as what they are, on every runtime (regressions from a 300-sandbox soak):
 * a pids-limit hit is `pids_limit` whether the bomb's children outlive it or it ends on its own;
 * `cpu_usage_cores` is the command's average cores and never above its quota; a command that fills
 * scratch in a few milliseconds and exits is `scratch_limit` every time.
 */
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { RUNTIMES, runInSandbox } from './lib/runtime.ts';
import { runtimeCase, useSuite } from './lib/suite.ts';
import { stretched } from './lib/emulation.ts';

const suite = useSuite();

/** Forks until refused, printing the refusal; each child runs `child` (Python) and exits. */
function bomb(child: string, after: string): string[] {
  const script = [
    'import os, time',
    'try:',
    '  while True:',
    '    if os.fork() == 0:',
    `      ${child}`,
    '      os._exit(0)',
    'except OSError as e:',
    '  print("refused", e.errno, flush=True)',
    after,
  ].join('\n');
  return ['python3', '-c', script];
}

const summary = (r: { termination_reason: string; exit_code: number | null; output: string; error: string | null }) =>
  `${r.termination_reason} (exit ${r.exit_code}): ${r.output.slice(0, 200)} ${(r.error ?? '').slice(0, 300)}`;

// microvm too: its guest cgroup's counters come back in the COUNTERS frame.
for (const runtime of [...RUNTIMES, 'microvm'] as const) {
  describe(`${runtime}: limits are reported as what they are`, () => {
    runtimeCase(suite, runtime, 'a fork bomb whose children sleep on after the refusal ends pids_limit, not timeout', async (_t, ready) => {
      // Children and parent outlive the refusal: only the timeout would end the sandbox on its own.
      // (The timeout must outlast the bomb reaching its limit: longer on an emulated host.)
      const result = await runInSandbox(ready, suite.config, bomb('time.sleep(60)', 'time.sleep(60)'), { limits: { pids: 16, timeoutSeconds: stretched(3) } });
      assert.equal(result.termination_reason, 'pids_limit', summary(result));
      assert.ok(result.security_violations.some((v) => v.violation_type === 'process_exhaustion'), JSON.stringify(result.security_violations));
    });

    runtimeCase(suite, runtime, 'a fork bomb that ends on its own right after the refusal still ends pids_limit', async (_t, ready) => {
      // The children exit at once and the parent right after its refusal: nothing stays at the
      // limit for a sampler to see, so only a counted refusal can report it.
      const result = await runInSandbox(ready, suite.config, bomb('pass', 'pass'), { limits: { pids: 16, timeoutSeconds: stretched(30) } });
      // (Whether the runner's poll stops it before it prints its refusal is a race; either way the
      // reason is the same.)
      assert.equal(result.termination_reason, 'pids_limit', summary(result));
    });

    runtimeCase(suite, runtime, "`--cpu 0.5 -- true` reports at most 0.5 cores (the runtime's start-up is not the command's)", async (_t, ready) => {
      for (let i = 0; i < 3; i++) {
        const result = await runInSandbox(ready, suite.config, ['true'], { limits: { cpuCores: 0.5 } });
        assert.equal(result.termination_reason, 'completed', summary(result));
        const cores = result.resource_usage.cpu_usage_cores;
        assert.ok(cores >= 0 && cores <= 0.5, `true under --cpu 0.5 reported ${cores} cores`);
      }
    });

    runtimeCase(suite, runtime, 'a busy loop under --cpu 0.5 reports what it used, never above 0.5 cores', async (_t, ready) => {
      const result = await runInSandbox(ready, suite.config, ['/bin/sh', '-c', 'while :; do :; done'], { limits: { cpuCores: 0.5, timeoutSeconds: 2 } });
      assert.equal(result.termination_reason, 'timeout', summary(result));
      const cores = result.resource_usage.cpu_usage_cores;
      // Measured, not a constant: a loop that spun for 2 s used a real share of its half core.
      assert.ok(cores > 0.05 && cores <= 0.5, `a busy loop under --cpu 0.5 reported ${cores} cores`);
    });

    runtimeCase(suite, runtime, 'a command that fills scratch in milliseconds and exits ends scratch_limit, every time', async (_t, ready) => {
      for (let i = 0; i < 5; i++) {
        const result = await runInSandbox(ready, suite.config, ['dd', 'if=/dev/zero', 'of=/tmp/f', 'bs=1M', 'count=64'], { limits: { scratchMb: 8 } });
        assert.equal(result.termination_reason, 'scratch_limit', `run ${i}: ${summary(result)}`);
        assert.equal(result.exit_code, 1, summary(result));
      }
    });
  });
}
