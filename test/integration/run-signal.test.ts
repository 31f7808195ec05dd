/**
 * `airlock run` ended by a signal tears its sandbox down before it exits: SIGTERM (and a second
 * SIGTERM at once, which must not cut the teardown short) exits 143, SIGINT 130, SIGHUP 129, and
 * no mount, cgroup, uid lease, owner record, process or network slot of the run is left; a reader
 * of the output that goes away ends the run the same way (141, as SIGPIPE). The real
 * CLI on both runtimes, scoped to this test's own isolated configuration.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { constants } from 'node:os';
import { startCli } from '../../src/cli/test-cli.ts';
import { findLeftovers } from '../../src/isolation/leftovers.ts';
import { slotSpace } from '../../src/network/slots.ts';
import { isolatedConfig, writeConfigFile } from '../security/lib/isolated-config.ts';
import { hasMountsUnder, listDir, removeIsolatedState } from '../security/lib/runtime.ts';
import { skipReason } from './environment.ts';

const config = isolatedConfig();
const skip = skipReason(config);

/** Everything this test's runs could leave: the shared helper's list, mounts under the run directory, slot leases. */
function leftovers(): string[] {
  const found = findLeftovers(config);
  if (hasMountsUnder(config.runDir)) found.push(`mounts under ${config.runDir}`);
  found.push(...listDir(slotSpace(config.network.instance).leaseDir).map((n) => `network slot lease ${n}`));
  return found;
}

async function until(what: string, check: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts a long run, waits until its command runs, sends the signals, and checks the ending. */
async function interrupted(runtime: string, signals: NodeJS.Signals[], network: string[] = []): Promise<void> {
  const cli = startCli(['run', '--runtime', runtime, ...network, '--timeout', '120', '--', '/bin/sh', '-c', 'echo started >&2; exec sleep 100'], {
    config: writeConfigFile(config),
  });
  await until('the command to start', () => cli.stderrSoFar().includes('started') || cli.child.exitCode !== null);
  assert.notDeepEqual(leftovers(), [], 'a running sandbox is visible to the leftover check');
  for (const signal of signals) cli.child.kill(signal);
  const ended = await cli.done;
  const first = signals[0] ?? 'SIGTERM';
  assert.equal(ended.signal, null, ended.stderr);
  assert.equal(ended.code, 128 + constants.signals[first], ended.stderr);
  assert.deepEqual(leftovers(), []);
}

describe('airlock run interrupted by a signal', () => {
  after(() => {
    assert.deepEqual(removeIsolatedState(config), []);
  });

  for (const runtime of ['namespace', 'gvisor']) {
    it(`${runtime}: SIGTERM exits 143 and leaves nothing`, { skip: skip(runtime), timeout: 120_000 }, async () => {
      await interrupted(runtime, ['SIGTERM']);
    });
    it(`${runtime}: a second SIGTERM at once does not cut the teardown short`, { skip: skip(runtime), timeout: 120_000 }, async () => {
      await interrupted(runtime, ['SIGTERM', 'SIGTERM']);
    });
  }
  for (const runtime of ['namespace', 'gvisor']) {
    it(`${runtime}: a reader that goes away (| head -1) ends the run as SIGPIPE would: exit 141, nothing left`, { skip: skip(runtime), timeout: 120_000 }, async () => {
      const cli = startCli(['run', '--runtime', runtime, '--timeout', '120', '--', '/bin/sh', '-c', 'echo started >&2; while :; do echo line; sleep 0.01; done'], {
        config: writeConfigFile(config),
      });
      await until('the command to start', () => cli.stderrSoFar().includes('started') || cli.child.exitCode !== null);
      cli.child.stdout?.destroy();
      const ended = await cli.done;
      assert.equal(ended.signal, null, ended.stderr);
      assert.equal(ended.code, 128 + constants.signals.SIGPIPE, ended.stderr);
      assert.deepEqual(leftovers(), []);
    });
  }
  it('namespace: SIGINT exits 130 and SIGHUP 129 with a network slot, and leave nothing', { skip: skip('namespace'), timeout: 120_000 }, async () => {
    await interrupted('namespace', ['SIGINT'], ['--network', 'full']);
    await interrupted('namespace', ['SIGHUP']);
  });
});
