/**
 * Warm pool checkout → first exec finished, against a Node spawn of /bin/true on the host measured
 * in the same loop but away from the checkout: each round waits (untimed) until the pool is full
 * and the last sandbox is gone, times the host spawn, then times create (a pool hit) + exec.
 */
import type { AirlockConfig } from '../src/config/config.ts';
import { SandboxService } from '../src/sandbox/service.ts';
import { policyDirOf, readBundleHash } from '../src/policy/bundle-files.ts';
import { spawnWait } from './spawn-wait.ts';
import { summarize } from './stats.ts';
import type { PairResult } from './namespace.ts';

const POOL_SIZE = 4;

function poolFull(service: SandboxService): boolean {
  const internals = service as unknown as { pools: Map<string, { readyCount: number; size: number }> };
  return [...internals.pools.values()].every((p) => p.readyCount === p.size);
}

export async function benchPool(config: AirlockConfig, n: number): Promise<PairResult> {
  const pools = [{ runtime: 'namespace' as const, image: config.defaultImage, size: POOL_SIZE, limits: {} }];
  const service = new SandboxService({
    config: { ...config, service: { ...config.service, pools, maxSandboxes: Math.max(config.service.maxSandboxes, POOL_SIZE * 2) } },
    policyBundleHash: await readBundleHash(policyDirOf(config.policy)),
  });
  await service.start();
  const checkout: number[] = [];
  const host: number[] = [];
  try {
    for (let i = -2; i < n; i++) {
      while (!poolFull(service)) await new Promise((r) => setTimeout(r, 5));
      // A quiet moment: nothing being built, nothing being torn down.
      await new Promise((r) => setTimeout(r, 20));
      let t0 = performance.now();
      await spawnWait('/bin/true', []);
      const quiet = performance.now() - t0;
      t0 = performance.now();
      const info = await service.create({ runtime: 'namespace', limits: {}, metadata: {}, env: {}, mounts: [] });
      if (!info.pooled) throw new Error('pool miss');
      const session = await service.exec(info.sandbox_id, { argv: ['/bin/true'], env: {}, stdin: false, timeoutMs: 10_000 });
      const result = await session.result;
      const elapsed = performance.now() - t0;
      if (result.exit_code !== 0) throw new Error(`exec ended ${result.termination_reason}`);
      await service.kill(info.sandbox_id);
      if (i >= 0) {
        checkout.push(elapsed);
        host.push(quiet);
      }
    }
  } finally {
    await service.shutdown();
  }
  return {
    name: 'pool checkout → first exec finished (baseline away from the checkout)',
    subject: summarize(checkout),
    baseline: summarize(host),
    subjectLabel: 'checkout+exec',
    baselineLabel: 'B: host spawn, pool idle',
  };
}
