/**
 * The provisioning path's ordering and cleanup: the network's environment wins, a failure at any
 * step tears down what was allocated (sandbox before network) and frees the start turn, refusals
 * come out as they are, and teardown runs once however often it is called. Stub driver and network
 * recording each step (real sandboxes go through it in test/integration/*).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_CONFIG } from '../config/config.ts';
import type { Image } from '../images/image.ts';
import type { IsolationDriver, Sandbox, SandboxSpec } from '../isolation/driver.ts';
import type { NetworkManager } from '../network/manager.ts';
import { RefusedControlError } from '../host/control-error.ts';
import { CANCELLED, provision, type ProvisionRequest } from './provision.ts';
import { StartQueue } from './start-queue.ts';
import { NO_NETWORK } from '../network/policy.ts';

interface StubOptions {
  failAt?: 'attach' | 'create' | 'start';
  createError?: Error;
}

function stubs(options: StubOptions = {}) {
  const events: string[] = [];
  const specs: SandboxSpec[] = [];
  const fail = (step: string, err: Error = new Error(`${step} failed`)) => {
    if (options.failAt === step) throw err;
  };
  const sandbox = {
    id: 'x',
    runtime: 'namespace',
    start: async () => {
      events.push('start');
      fail('start');
      return { stdout: null, stderr: null, stdin: null, exit: new Promise(() => undefined) };
    },
    networkPid: () => undefined,
    destroy: async () => void events.push('destroy'),
  } as unknown as Sandbox;
  const driver = {
    runtime: 'namespace',
    create: async (spec: SandboxSpec) => {
      events.push('create');
      specs.push(spec);
      fail('create', options.createError);
      return sandbox;
    },
  } as unknown as IsolationDriver;
  const attachment = {
    env: { HTTP_PROXY: 'http://10.0.0.1:3128' },
    resolvConf: 'nameserver 10.0.0.1\n',
    sandboxNetwork: { kind: 'isolated' },
    release: async () => void events.push('release'),
  };
  const networks = {
    attach: async () => {
      events.push('attach');
      fail('attach');
      return attachment;
    },
  } as unknown as NetworkManager;
  return { events, specs, driver, networks };
}

const request: ProvisionRequest = {
  id: 'x-1', image: {} as Image, limits: { ...DEFAULT_CONFIG.defaults }, env: { HTTP_PROXY: 'http://evil.example', A: '1' }, mounts: [],
  workdir: '/tmp', network: NO_NETWORK, argv: ['true'], stdin: false,
};

describe('provision', () => {
  it('attaches, creates and starts in order; the network env and resolv.conf win over the request', async () => {
    const { events, specs, driver, networks } = stubs();
    const started = await provision(request, { driver, networks });
    assert.notEqual(started, CANCELLED);
    assert.deepEqual(events, ['attach', 'create', 'start']);
    assert.equal(specs[0]?.env['HTTP_PROXY'], 'http://10.0.0.1:3128');
    assert.equal(specs[0]?.env['A'], '1');
    assert.equal(specs[0]?.resolvConf, 'nameserver 10.0.0.1\n');
    assert.equal('agentDir' in (specs[0] ?? {}), false);
  });

  it('teardown destroys the sandbox, then releases its network, once however often it is called', async () => {
    const { events, driver, networks } = stubs();
    const started = await provision(request, { driver, networks });
    assert.notEqual(started, CANCELLED);
    if (started === CANCELLED) return;
    await Promise.all([started.teardown(), started.teardown()]);
    await started.teardown();
    assert.deepEqual(events, ['attach', 'create', 'start', 'destroy', 'release']);
  });

  for (const [step, expected] of [
    ['attach', ['attach']],
    ['create', ['attach', 'create', 'release']],
    ['start', ['attach', 'create', 'start', 'destroy', 'release']],
  ] as const) {
    it(`a failed ${step} rejects with its error, tears down what was allocated and frees the start turn`, async () => {
      const { events, driver, networks } = stubs({ failAt: step });
      const starts = new StartQueue(1);
      await assert.rejects(provision(request, { driver, networks, starts }), new RegExp(`${step} failed`));
      assert.deepEqual(events, expected);
      assert.equal(starts.active, 0);
    });
  }

  it('a control refusal comes out as the RefusedControlError it is', async () => {
    const refusal = new RefusedControlError('filesystem_access', 'cannot grant /etc/shadow');
    const { events, driver, networks } = stubs({ failAt: 'create', createError: refusal });
    await assert.rejects(provision(request, { driver, networks }), (err) => err === refusal);
    assert.deepEqual(events, ['attach', 'create', 'release']);
  });

  it('cancelled while waiting for its turn: allocates nothing, and the turn goes to the next caller', async () => {
    const { events, driver, networks } = stubs();
    const starts = new StartQueue(1);
    const first = await starts.turn();
    const controller = new AbortController();
    const pending = provision(request, { driver, networks, starts, signal: controller.signal });
    controller.abort();
    first();
    assert.equal(await pending, CANCELLED);
    assert.deepEqual(events, []);
    assert.equal(starts.active, 0);
  });

  it('the start turn is held until the owner ends it', async () => {
    const { driver, networks } = stubs();
    const starts = new StartQueue(1);
    const started = await provision(request, { driver, networks, starts });
    if (started === CANCELLED) return assert.fail('not cancelled');
    assert.equal(starts.active, 1);
    started.endStartTurn();
    started.endStartTurn();
    assert.equal(starts.active, 0);
  });
});
