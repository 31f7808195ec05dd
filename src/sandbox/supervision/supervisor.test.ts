/**
 * The runner's supervision over a fake sandbox: events lead to a sample read, a sandbox without
 * events (or whose events fail) is sampled at the shared cadence, a polled counter is read by the
 * shared sampler, and one timer serves every sandbox (spread over its ticks).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LimitListener, LimitWatch, ResourceSample, Sandbox } from '../../isolation/driver.ts';
import { SharedSampler } from './sampler.ts';
import { Supervisor } from './supervisor.ts';

const QUIET: ResourceSample = { cpuNanos: 0, memoryPeakBytes: 0, oomKills: 0, pidsLimitHits: 0, scratchFull: false };

interface FakeOptions {
  watch?: (listener: LimitListener) => Promise<LimitWatch>;
}

function fakeSandbox(options: FakeOptions = {}): Sandbox & { reads: number; sample: ResourceSample } {
  const sandbox = {
    id: 'fake',
    runtime: 'namespace' as const,
    reads: 0,
    sample: QUIET,
    start: () => Promise.reject(new Error('unused')),
    stats: async () => {
      sandbox.reads++;
      return sandbox.sample;
    },
    networkPid: () => undefined,
    stop: async () => undefined,
    destroy: async () => undefined,
    ...(options.watch === undefined ? {} : { watchLimits: options.watch }),
  };
  return sandbox;
}

/** Waits (at most 3 s: the machine may be busy) until `check` holds. */
async function until(check: () => boolean): Promise<boolean> {
  const deadline = Date.now() + 3000;
  while (!check() && Date.now() < deadline) await sleep(5);
  return check();
}

function armed(polled?: string, onPoll?: () => void): { watch: LimitWatch; closed: () => boolean } {
  let closed = false;
  return { watch: { polled, poll: () => onPoll?.(), close: () => void (closed = true) }, closed: () => closed };
}

test('an armed sandbox is read once when armed, then only on events: no timer while idle', async () => {
  let listener: LimitListener | undefined;
  const { watch, closed } = armed();
  const sandbox = fakeSandbox({ watch: async (l) => ((listener = l), watch) });
  const samples: ResourceSample[] = [];
  const supervisor = new Supervisor({ tickMs: 5 });
  const supervision = supervisor.supervise(sandbox, { onSample: (s) => samples.push(s) });
  await sleep(50);
  assert.equal(sandbox.reads, 1, 'one read once armed (a hit before arming is not missed)');
  assert.equal(supervisor.sampled, 0, 'nothing sampled while the events are armed');
  sandbox.sample = { ...QUIET, oomKills: 1 };
  listener?.changed();
  await sleep(10);
  assert.equal(sandbox.reads, 2);
  assert.equal(samples.at(-1)?.oomKills, 1);
  supervision.stop();
  assert.ok(closed(), 'stopping disarms the events');
  listener?.changed();
  await sleep(10);
  assert.equal(samples.length, 2, 'no sample after stop');
});

test('events during a read ask for one more read, not one per event', async () => {
  let listener: LimitListener | undefined;
  const sandbox = fakeSandbox({ watch: async (l) => ((listener = l), armed().watch) });
  const supervisor = new Supervisor({ tickMs: 5 });
  supervisor.supervise(sandbox, { onSample: () => undefined });
  await sleep(20);
  const before = sandbox.reads;
  for (let i = 0; i < 50; i++) listener?.changed();
  await sleep(20);
  assert.ok(sandbox.reads - before <= 2, `${sandbox.reads - before} reads for 50 events`);
  assert.ok(sandbox.reads - before >= 1);
});

test('a sandbox is sampled until its events are armed (never unwatched while a helper starts)', async () => {
  let arm: ((w: LimitWatch) => void) | undefined;
  const sandbox = fakeSandbox({ watch: () => new Promise((resolve) => (arm = resolve)) });
  const supervisor = new Supervisor({ tickMs: 5 });
  supervisor.supervise(sandbox, { onSample: () => undefined });
  assert.equal(supervisor.sampled, 1, 'sampled while arming');
  assert.ok(await until(() => sandbox.reads >= 1), 'read while arming');
  arm?.(armed().watch);
  await sleep(10);
  assert.equal(supervisor.sampled, 0, 'no sampling once armed');
});

test('a driver without events is sampled at the shared cadence, and the reason is reported', async () => {
  const reasons: string[] = [];
  const sandbox = fakeSandbox();
  const supervisor = new Supervisor({ tickMs: 5, onFallback: (_id, r) => reasons.push(r) });
  const supervision = supervisor.supervise(sandbox, { onSample: () => undefined });
  assert.equal(supervisor.sampled, 1);
  assert.match(reasons[0] ?? '', /namespace driver has no limit events/);
  assert.ok(await until(() => sandbox.reads >= 2), `read ${sandbox.reads} times`);
  supervision.stop();
  assert.equal(supervisor.sampled, 0, 'stopping leaves the sampler');
});

test('a watch that cannot be set up, or that fails later, falls back to sampling (fail closed)', async () => {
  const reasons: string[] = [];
  const supervisor = new Supervisor({ tickMs: 5, onFallback: (_id, r) => reasons.push(r) });
  supervisor.supervise(fakeSandbox({ watch: () => Promise.reject(new Error('cgroups: no memory.events')) }), { onSample: () => undefined });
  await sleep(10);
  assert.equal(supervisor.sampled, 1);
  let listener: LimitListener | undefined;
  supervisor.supervise(fakeSandbox({ watch: async (l) => ((listener = l), armed().watch) }), { onSample: () => undefined });
  await sleep(10);
  assert.equal(supervisor.sampled, 1, 'the armed one is not sampled');
  listener?.failed('inotify on memory.events failed');
  assert.equal(supervisor.sampled, 2, 'a failed source is sampled from then on');
  assert.deepEqual(reasons, ['cgroups: no memory.events', 'inotify on memory.events failed']);
  supervisor.close();
});

test('a counter without an event is polled by the shared sampler; a change leads to a read', async () => {
  let listener: LimitListener | undefined;
  let polls = 0;
  const { watch } = armed('pids: no event', () => {
    polls++;
    if (polls === 2) listener?.changed();
  });
  const sandbox = fakeSandbox({ watch: async (l) => ((listener = l), watch) });
  const reasons: string[] = [];
  const supervisor = new Supervisor({ tickMs: 5, onFallback: (_id, r) => reasons.push(r) });
  const supervision = supervisor.supervise(sandbox, { onSample: () => undefined });
  assert.ok(await until(() => polls >= 2 && sandbox.reads >= 2), `polled ${polls} times`);
  assert.equal(sandbox.reads, 2, 'read when armed and when the poll saw a change, not on every poll');
  assert.deepEqual(reasons, ['pids: no event']);
  // Each reason is reported once, not for every sandbox.
  supervisor.supervise(fakeSandbox({ watch: async () => armed('pids: no event').watch }), { onSample: () => undefined });
  await sleep(10);
  assert.equal(reasons.length, 1);
  supervision.stop();
  supervisor.close();
});

test('one-shots (sampleAll) are sampled even with events armed', async () => {
  const sandbox = fakeSandbox({ watch: async () => armed().watch });
  const supervisor = new Supervisor({ tickMs: 5 });
  const supervision = supervisor.supervise(sandbox, { sampleAll: true, onSample: () => undefined });
  assert.ok(await until(() => sandbox.reads >= 3), `read ${sandbox.reads} times`);
  supervision.stop();
  assert.equal(supervisor.sampled, 0);
});

test('the shared sampler spreads entries of one period over its ticks and stops its timer when empty', async () => {
  const sampler = new SharedSampler(5);
  const perTick = new Map<number, number>();
  let tick = 0;
  const clock = setInterval(() => tick++, 5);
  const removals = Array.from({ length: 40 }, () => sampler.add(4, () => perTick.set(tick, (perTick.get(tick) ?? 0) + 1)));
  await sleep(200);
  clearInterval(clock);
  for (const remove of removals) remove();
  assert.equal(sampler.size, 0);
  // 40 entries every 4 ticks: about 10 a tick, never all 40 at once.
  const max = Math.max(...perTick.values());
  assert.ok(max <= 20, `up to ${max} entries ran on one tick`);
  assert.equal((sampler as unknown as { timer: unknown }).timer, undefined, 'no timer once empty');
});

test('a lone one-shot (events: false) is sampled only: nothing is armed', async () => {
  let armedCalls = 0;
  const sandbox = fakeSandbox({ watch: async () => (armedCalls++, armed().watch) });
  const reasons: string[] = [];
  const supervisor = new Supervisor({ tickMs: 5, onFallback: (_id, r) => reasons.push(r) });
  const supervision = supervisor.supervise(sandbox, { sampleAll: true, events: false, onSample: () => undefined });
  assert.ok(await until(() => sandbox.reads >= 1));
  assert.equal(armedCalls, 0);
  assert.deepEqual(reasons, [], 'not a fallback: sampled by choice');
  supervision.stop();
  supervisor.close();
});
