/**
 * T15 drift under load, on every runtime, with real sandboxes, real monitors and a real `nft`
 * behind a stand-in that hangs its first listings (what `nft list ruleset` does on a host too
 * loaded to answer): a reader that times out a few times is retried and the sandbox lives; one
 * that never answers kills it, saying the watch could not verify the state (not that it changed).
 */
import { before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetworkManager } from '../../src/network/manager.ts';
import { findNetTools } from '../../src/network/host-tools.ts';
import type { AirlockConfig } from '../../src/config/config.ts';
import { RUNTIMES, runInSandbox } from './lib/runtime.ts';
import { runtimeCase, useSuite } from './lib/suite.ts';

const suite = useSuite();
const READ_TIMEOUT_MS = 500;
const ATTEMPTS = 3;
let dir: string;
let networks: NetworkManager;
/** Waiters for the next sandbox whose drift watch is in effect. */
const watchWaiters: (() => void)[] = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'airlock-slow-nft-'));
  const real = findNetTools();
  // Hangs the next N `-j list ruleset` calls (exec: the process the watch kills is the sleep
  // itself, nothing is left behind); every other call, and every later listing, is the real nft.
  writeFileSync(join(dir, 'nft'), [
    '#!/bin/sh',
    `if [ "$1 $2 $3" = "-j list ruleset" ]; then`,
    `  n=$(cat ${dir}/stalls)`,
    `  if [ "$n" -gt 0 ]; then echo $((n - 1)) > ${dir}/stalls; echo stalled >> ${dir}/stalled; exec sleep 60; fi`,
    'fi',
    `exec ${real.nft} "$@"`,
    '',
  ].join('\n'));
  chmodSync(join(dir, 'nft'), 0o755);
  stall(0);
  const config: AirlockConfig = {
    ...suite.config,
    network: { ...suite.config.network, driftReadTimeoutMs: READ_TIMEOUT_MS, driftReadAttempts: ATTEMPTS },
  };
  networks = new NetworkManager({ config, tools: { ip: real.ip, nft: join(dir, 'nft') }, onWatchReady: () => watchWaiters.shift()?.() });
});

suite.closeFirst(async () => {
  await networks?.close();
  rmSync(dir, { recursive: true, force: true });
});

function stall(listings: number): void {
  writeFileSync(join(dir, 'stalls'), `${listings}\n`);
  writeFileSync(join(dir, 'stalled'), '');
}

const stalled = (): number => readFileSync(join(dir, 'stalled'), 'utf8').split('\n').filter(Boolean).length;
const restricted = { mode: 'restricted' as const, allowedHosts: [], services: [] };

for (const runtime of [...RUNTIMES, 'microvm'] as const) {
  describe(`${runtime}: T15 drift watch under load`, () => {
    runtimeCase(suite, runtime, `an nft listing that times out ${ATTEMPTS - 1} times is retried; the sandbox is not killed`, async (_t, ready) => {
      stall(ATTEMPTS - 1);
      const watching = new Promise<void>((resolve) => watchWaiters.push(resolve));
      const run = runInSandbox(ready, suite.config, ['sleep', '4'], { network: restricted, networks, limits: { timeoutSeconds: 30 } });
      await watching;
      assert.equal(stalled(), ATTEMPTS - 1, 'the first comparison went through the stalled listings');
      const result = await run;
      assert.equal(result.termination_reason, 'completed', `${result.termination_reason}: ${JSON.stringify(result.security_violations)}`);
      assert.deepEqual(result.security_violations, []);
    });

    runtimeCase(suite, runtime, 'an nft listing that never answers kills the sandbox as unverifiable, naming the timeout', async (t, ready) => {
      stall(1000);
      const run = runInSandbox(ready, suite.config, ['sleep', '30'], { network: restricted, networks, limits: { timeoutSeconds: 40 } });
      const result = await run;
      assert.equal(result.termination_reason, 'network_drift', `${result.termination_reason}: ${result.error}`);
      assert.equal(stalled(), ATTEMPTS, 'killed only after every attempt');
      const v = result.security_violations.find((x) => x.violation_type === 'network_drift');
      assert.ok(v, 'no network_drift violation');
      t.diagnostic(v.description);
      assert.equal(v.severity, 'HIGH');
      assert.equal(v.indicators['verified'], false);
      assert.match(v.description, new RegExp(`^drift watch could not verify the sandbox's network state; sandbox killed: drift watch could not read the nft ruleset: timed out after ${READ_TIMEOUT_MS / 1000} s \\(${ATTEMPTS} attempts\\)$`));
      assert.ok(result.execution_time_seconds < 20, `took ${result.execution_time_seconds} s`);
    });
  });
}
