/**
 * Cancelling executeOnce at each step of start-up: a cancelled run allocates nothing more, what it
 * had allocated is released, and it ends `killed` under the id admission gave it. Stub driver and
 * network (the real ones are exercised by test/integration/one-shot-cancel.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_CONFIG } from '../config/config.ts';
import type { Image } from '../images/image.ts';
import type { IsolationDriver, Sandbox } from '../isolation/driver.ts';
import type { NetworkManager } from '../network/manager.ts';
import { executeOnce, type ExecutionRequest } from './execute.ts';

interface Stubs {
  events: string[];
  driver: IsolationDriver;
  network: NetworkManager;
}

/** A driver and network manager that record each step; `onCreate` runs while the sandbox is being created. */
function stubs(onCreate: () => void = () => undefined): Stubs {
  const events: string[] = [];
  const sandbox = {
    id: 'x',
    runtime: 'namespace',
    start: async () => {
      events.push('start');
      throw new Error('the stub never runs a command');
    },
    stats: async () => ({ cpuNanos: 0, memoryPeakBytes: 0, oomKills: 0, pidsLimitHits: 0, scratchFull: false }),
    networkPid: () => undefined,
    stop: async () => undefined,
    destroy: async () => {
      events.push('destroy');
    },
  } as unknown as Sandbox;
  const driver = {
    runtime: 'namespace',
    probe: async () => ({ available: true }),
    reapStale: async () => [],
    create: async () => {
      events.push('create');
      onCreate();
      return sandbox;
    },
  } as unknown as IsolationDriver;
  const attachment = { env: {}, sandboxNetwork: { mode: 'none' }, release: async () => void events.push('release') };
  const network = {
    attach: async () => {
      events.push('attach');
      return attachment;
    },
  } as unknown as NetworkManager;
  return { events, driver, network };
}

const request = (signal: AbortSignal): ExecutionRequest => ({
  image: {} as Image, limits: { ...DEFAULT_CONFIG.defaults }, env: {}, mounts: [], workdir: '/tmp', argv: ['sleep', '30'],
  executionId: '00000000-0000-4000-8000-000000000001', signal,
});

describe('executeOnce cancellation', () => {
  it('cancelled before it starts: nothing is allocated; killed, under the given id', async () => {
    const { events, driver, network } = stubs();
    const result = await executeOnce(request(AbortSignal.abort()), { driver, network, policyHash: 'sha256:x' });
    assert.deepEqual(events, []);
    assert.equal(result.termination_reason, 'killed');
    assert.equal(result.execution_id, '00000000-0000-4000-8000-000000000001');
    assert.equal(result.exit_code, null);
    assert.equal(result.success, false);
    assert.match(result.error ?? '', /cancelled before the command started/);
  });

  it('cancelled while its sandbox is created: never started; sandbox destroyed, then its network released', async () => {
    const controller = new AbortController();
    const { events, driver, network } = stubs(() => controller.abort());
    const result = await executeOnce(request(controller.signal), { driver, network, policyHash: 'sha256:x' });
    assert.deepEqual(events, ['attach', 'create', 'destroy', 'release']);
    assert.equal(result.termination_reason, 'killed');
  });
});
