/**
 * The drift watch's logic with fake feeds and readers: which sandboxes an event compares, what
 * counts as proof of a change, how failing reads are retried and reported, and that nothing runs
 * once the last sandbox is gone. (Real monitors and real tampering: test/security/network.test.ts
 * and test/security/drift-load.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DriftWatch, type DriftFinding, type DriftWatchOptions } from './drift-watch.ts';
import type { EventFeed } from './drift/monitor-process.ts';
import { ToolTimeoutError } from './host-tools.ts';
import type { NetworkSnapshot } from './snapshot.ts';

/** A feed whose lines the test emits. */
class FakeFeed implements EventFeed {
  readonly name: string;
  starts = 0;
  stops = 0;
  failStarts = 0;
  private onLine: ((line: string) => void) | undefined;
  private onTrouble: ((message: string, ended: boolean) => void) | undefined;
  constructor(name: string) {
    this.name = name;
  }
  get running(): boolean {
    return this.onLine !== undefined;
  }
  async start(onLine: (line: string) => void, onTrouble: (message: string, ended: boolean) => void): Promise<void> {
    this.starts++;
    if (this.failStarts > 0) {
      this.failStarts--;
      throw new Error(`${this.name} could not start`);
    }
    this.onLine = onLine;
    this.onTrouble = onTrouble;
  }
  async stop(): Promise<void> {
    this.stops++;
    this.onLine = undefined;
  }
  emit(line: string): void {
    this.onLine?.(line);
  }
  /** The process ended by itself. */
  die(): void {
    const trouble = this.onTrouble;
    this.onLine = undefined;
    trouble?.(`${this.name} exited (1)`, true);
  }
}

const rule = (table: string, handle: number) => JSON.stringify({ add: { rule: { family: 'inet', table, chain: 'input', handle, expr: [{ accept: null }] } } });

interface Harness {
  watch: DriftWatch;
  nft: FakeFeed;
  ip: FakeFeed;
  listings: number;
  /** Fail the next N listings (a timeout, as runTool reports one). */
  failListings(n: number): void;
  /** Sandboxes by name: their state (mutable), findings and reads. */
  add(name: string, slot: boolean, netns?: number): Promise<{ state: NetworkSnapshot; findings: DriftFinding[]; reads: number; readAt: number[]; stop(): void }>;
}

function harness(overrides: Partial<DriftWatchOptions> = {}): Harness {
  const nft = new FakeFeed('nft monitor');
  const ip = new FakeFeed('ip monitor');
  let failing = 0;
  const h: Harness = {
    nft,
    ip,
    listings: 0,
    failListings: (n) => (failing = n),
    watch: new DriftWatch({
      listRuleset: async () => {
        h.listings++;
        if (failing > 0) {
          failing--;
          throw new ToolTimeoutError('nft -j list ruleset inet', 50);
        }
        return '{"nftables": []}';
      },
      // What the real marker does: an add-table event for its name comes through the nft feed.
      nftMarker: async (name) => void setImmediate(() => nft.emit(JSON.stringify({ add: { table: { family: 'inet', name, handle: 1 } } }))),
      nftFeed: nft,
      ipFeed: ip,
      fullCheckMs: 60_000,
      retry: { attempts: 3, backoffMs: 5 },
      coalesceMs: 5,
      ...overrides,
    }),
    async add(name, slot, netns) {
      const state: NetworkSnapshot = { 'sandbox links': 'eth0,lo', ...(slot ? { 'firewall rules': '[]' } : {}) };
      const record = { state, findings: [] as DriftFinding[], reads: 0, readAt: [] as number[], stop: () => undefined as void };
      const watching = h.watch.watch({
        slot: slot ? { table: name, hostLink: `al-${name}` } : undefined,
        netns,
        baseline: async () => ({ ...state }),
        read: async (ctx, scope) => {
          record.reads++;
          record.readAt.push(performance.now());
          if (slot && scope !== 'sandbox') await ctx.ruleset();
          if (scope === 'host') return { 'firewall rules': state['firewall rules'] ?? 'missing' };
          return scope === 'sandbox' ? { 'sandbox links': state['sandbox links'] ?? '' } : { ...state };
        },
        onDrift: (f) => record.findings.push(f),
      });
      record.stop = watching.stop;
      await watching.ready;
      return record;
    },
  };
  return h;
}

const settle = (ms = 40) => new Promise((r) => setTimeout(r, ms));
/** Waits until `cond` holds (positive outcomes: no fixed time budget on a loaded machine). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await settle(5);
  assert.ok(cond(), `never happened: ${what}`);
}

test('an event compares only the sandbox it concerns; a change reverted before the comparison still kills, named', async () => {
  const h = harness();
  const a = await h.add('airlock-n1', true);
  const b = await h.add('airlock-n2', true);
  const [readsA, readsB] = [a.reads, b.reads];
  h.nft.emit(rule('airlock-n1', 9));
  h.nft.emit(rule('some-other-table', 3));
  await until(() => a.findings.length === 1, 'the change killed it');
  assert.equal(b.reads, readsB, 'the other sandbox was not compared');
  assert.equal(a.reads, readsA + 1);
  assert.equal(a.findings.length, 1);
  assert.equal(a.findings[0]?.verified, true);
  assert.match(a.findings[0]?.changes.join('; ') ?? '', /firewall rules: added rule inet airlock-n1 input #9: accept \(seen by nft monitor\).*reverted/);
  assert.deepEqual(b.findings, []);
  await h.watch.close();
});

test('a link leaving the host compares every sandbox\'s own side only; a host route event only its slot\'s', async () => {
  const h = harness();
  const a = await h.add('airlock-n1', true);
  const iso = await h.add('iso', false);
  const listings = h.listings;
  iso.state['sandbox links'] = 'lo,moved';
  h.ip.emit('[nsid current][LINK]Deleted 35: moved@x: <BROADCAST> mtu 1500 new-netnsid 0 new-ifindex 35');
  await until(() => iso.findings.length === 1, 'the moved link killed it');
  assert.equal(h.listings, listings, 'no nft listing for a sandbox-side comparison');
  assert.deepEqual(iso.findings, [{ verified: true, changes: ['sandbox links: eth0,lo → lo,moved'] }]);
  assert.deepEqual(a.findings, []);
  a.state['firewall rules'] = 'missing';
  h.ip.emit('[nsid current][ROUTE]10.251.0.0/24 dev al-airlock-n1 scope link ');
  await until(() => a.findings.length === 1, 'the route event compared its slot');
  await h.watch.close();
});

test('events from before the watch took over a table (its own build, still in the pipe) are not taken for a change', async () => {
  const h = harness({
    // The build's events arrive only now, after the sandbox registered but before the marker.
    nftMarker: async (name) => void setImmediate(() => {
      h.nft.emit(rule('airlock-n1', 3));
      h.nft.emit(JSON.stringify({ add: { table: { family: 'inet', name, handle: 1 } } }));
    }),
  });
  const a = await h.add('airlock-n1', true);
  await settle();
  assert.deepEqual(a.findings, []);
  h.nft.emit(rule('airlock-n1', 8));
  await until(() => a.findings.length === 1, 'an event after the marker is a change');
  await h.watch.close();
});

test('a listing that times out is retried and does not kill; one that keeps timing out kills as unverifiable', async () => {
  const h = harness();
  const a = await h.add('airlock-n1', true);
  h.failListings(2);
  const before = h.listings;
  h.nft.emit('{"add": {"table": {"family": "inet", "name": "unrelated", "handle": 4}}}');
  h.ip.emit('[nsid current][ROUTE]10.251.0.0/24 dev al-airlock-n1 scope link ');
  await until(() => h.listings - before === 3, 'two timeouts, then an answer');
  await settle();
  assert.deepEqual(a.findings, [], 'a slow reader is not drift');
  h.failListings(100);
  // Any nft event makes the listing stale (until then it is reused: see the listing test).
  h.nft.emit('{"add": {"table": {"family": "inet", "name": "unrelated", "handle": 5}}}');
  h.ip.emit('[nsid current][ROUTE]10.251.0.0/24 dev al-airlock-n1 scope link ');
  await until(() => a.findings.length === 1, 'killed once the retries ran out');
  assert.deepEqual(a.findings, [{ verified: false, changes: ['drift watch could not read the nft ruleset: timed out after 0.05 s (3 attempts)'] }]);
  await h.watch.close();
});

test('the full comparison finds what no event reported', async () => {
  const h = harness({ fullCheckMs: 30 });
  const iso = await h.add('iso', false);
  iso.state['sandbox links'] = 'eth9,lo';
  await until(() => iso.findings.length === 1, 'the full comparison ran');
  assert.deepEqual(iso.findings, [{ verified: true, changes: ['sandbox links: eth0,lo → eth9,lo'] }]);
  await h.watch.close();
});

test('feeds are shared, started on need (nft only for slots) and stopped with the last sandbox', async () => {
  const h = harness();
  const iso = await h.add('iso', false);
  assert.deepEqual([h.ip.starts, h.nft.starts], [1, 0], 'an isolated sandbox needs no nftables');
  const a = await h.add('airlock-n1', true);
  const b = await h.add('airlock-n2', true);
  assert.deepEqual([h.ip.starts, h.nft.starts], [1, 1], 'one process of each for every sandbox');
  a.stop();
  iso.stop();
  await settle();
  assert.deepEqual([h.ip.running, h.nft.running], [true, true]);
  b.stop();
  await settle();
  assert.deepEqual([h.ip.running, h.nft.running], [false, false], 'nothing runs once the last sandbox is gone');
  await h.add('iso2', false);
  assert.equal(h.ip.starts, 2, 'started again for the next sandbox');
  await h.watch.close();
  assert.equal(h.ip.running, false);
});

test('with a linger, the feeds outlive the last sandbox by that long and are reused by the next one', async () => {
  const h = harness({ feedLingerMs: 150 });
  const a = await h.add('airlock-n1', true);
  a.stop();
  await settle();
  assert.deepEqual([h.ip.running, h.nft.running], [true, true], 'still running within the linger');
  const b = await h.add('airlock-n2', true);
  assert.deepEqual([h.ip.starts, h.nft.starts], [1, 1], 'the next sandbox reuses the lingering feeds');
  await new Promise((r) => setTimeout(r, 250));
  assert.deepEqual([h.ip.running, h.nft.running], [true, true], 'a sandbox that arrived within the linger keeps them');
  b.stop();
  await until(() => !h.ip.running && !h.nft.running, 'stopped once the linger ran out');
  const c = await h.add('iso', false);
  assert.deepEqual([h.ip.starts, h.nft.starts], [2, 1], 'started again after it');
  c.stop();
  await h.watch.close();
  assert.deepEqual([h.ip.running, h.nft.running], [false, false], 'close() stops a lingering feed at once');
});

test('a feed that dies is restarted and everything compared; one that can\'t be restarted kills what it served, as unverifiable', async () => {
  const h = harness();
  const a = await h.add('airlock-n1', true);
  const reads = a.reads;
  h.nft.die();
  await until(() => h.nft.starts === 2 && a.reads > reads, 'restarted, then a full comparison after the gap');
  assert.deepEqual(a.findings, []);
  h.nft.failStarts = 3;
  h.nft.die();
  await until(() => a.findings.length === 1, 'killed once the restarts ran out');
  const [finding] = a.findings as DriftFinding[];
  assert.equal(finding?.verified, false);
  assert.match(finding?.changes[0] ?? '', /drift watch lost its nft monitor \(nft monitor exited \(1\)\) and could not restart it: nft monitor could not start \(3 attempts\)/);
  await h.watch.close();
});

test('a feed that cannot start kills the sandbox as unverifiable before any baseline', async () => {
  const h = harness();
  h.ip.failStarts = 3;
  const iso = await h.add('iso', false);
  assert.deepEqual(iso.findings, [{ verified: false, changes: ['drift watch could not subscribe to host network events: ip monitor could not start (3 attempts)'] }]);
  await h.watch.close();
});

test('close() waits for a pass in progress, aborting its reads', async () => {
  let aborted = false;
  let release: (() => void) | undefined;
  const h = harness({
    listRuleset: (signal) => new Promise((resolve, reject) => {
      release = () => resolve('{"nftables": []}');
      signal.addEventListener('abort', () => {
        aborted = true;
        setTimeout(() => reject(new Error('aborted')), 20);
      });
    }),
  });
  const watching = h.add('airlock-n1', true);
  await settle();
  assert.ok(release !== undefined, 'the first comparison is listing');
  let closed = false;
  const closing = h.watch.close().then(() => (closed = true));
  await settle(5);
  assert.equal(closed, false, 'close is waiting for the pass');
  await closing;
  assert.ok(aborted);
  const a = await watching;
  assert.deepEqual(a.findings, [], 'a shutdown is not drift');
  assert.deepEqual([h.ip.running, h.nft.running], [false, false]);
});

const LINK_IN_NS = (nsid: number) => `[nsid ${nsid}][LINK]3: eth1@if9: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \\    link/ether ee:5b:6f:4f:88:c0 brd ff:ff:ff:ff:ff:ff`;

test('an event in a namespace compares only the sandbox living there; an id it can\'t resolve compares every sandbox', async () => {
  let lookups = 0;
  // id 7 → the namespace of `a`, id 8 → a namespace no sandbox lives in; id 9 has no name.
  const ids = new Map([[7, 1001], [8, 1002]]);
  const h = harness({
    namespaceIds: async () => {
      lookups++;
      return new Map(ids);
    },
  });
  const a = await h.add('airlock-n1', true, 1001);
  const b = await h.add('airlock-n2', true, 1003);
  const reads = () => [a.reads, b.reads];
  let before = reads();
  a.state['sandbox links'] = 'eth0,eth1,lo';
  h.ip.emit(LINK_IN_NS(7));
  await until(() => a.findings.length === 1, 'the change in its namespace killed it');
  assert.deepEqual(a.findings, [{ verified: true, changes: ['sandbox links: eth0,lo → eth0,eth1,lo'] }]);
  await settle();
  assert.equal(b.reads, before[1], 'the sandbox in another namespace was not compared');
  before = reads();
  h.ip.emit(LINK_IN_NS(8));
  await settle();
  assert.deepEqual(reads(), before, 'a namespace no sandbox lives in compares none');
  assert.equal(lookups, 1, 'ids are resolved once');
  h.ip.emit(LINK_IN_NS(9));
  await until(() => b.reads > (before[1] ?? 0), 'an id without a name compares every sandbox');
  // A link moved from the host into a namespace named by id: that sandbox.
  b.state['sandbox links'] = 'eth0,lo,moved';
  ids.set(4, 1003);
  h.ip.emit('[nsid current][NSID]nsid 4 (iproute2 netns name: airlock-n2)');
  h.ip.emit('[nsid current][LINK]Deleted 35: moved@x: <BROADCAST> mtu 1500 new-netnsid 4 new-ifindex 35');
  await until(() => b.findings.length === 1, 'a link moved into its namespace killed it');
  assert.equal(lookups, 2, 'an id assigned makes the watch resolve ids again');
  await h.watch.close();
});

test('an unresolvable id, a failed lookup or a sandbox of unknown namespace fail closed: compared', async () => {
  let failLookup = false;
  const h = harness({
    namespaceIds: async () => {
      if (failLookup) throw new Error('ip netns list-id timed out');
      return new Map([[8, 1002]]);
    },
  });
  const known = await h.add('iso1', false, 1001);
  const unknown = await h.add('iso2', false);
  let before = [known.reads, unknown.reads];
  h.ip.emit(LINK_IN_NS(8));
  await until(() => unknown.reads > (before[1] ?? 0), 'a sandbox of unknown namespace is compared for any namespace');
  await settle();
  assert.equal(known.reads, before[0], 'one whose namespace is known and not that one is not');
  failLookup = true;
  h.ip.emit('[nsid current][NSID]Deleted nsid 8');
  before = [known.reads, unknown.reads];
  h.ip.emit(LINK_IN_NS(8));
  await until(() => known.reads > (before[0] ?? 0) && unknown.reads > (before[1] ?? 0), 'a failed lookup compares every sandbox');
  await h.watch.close();
});

test('the periodic comparison is spread over its period: each sandbox once, a slice at a time', async () => {
  const period = 400;
  const h = harness({ fullCheckMs: period });
  const all = await Promise.all(Array.from({ length: 20 }, (_, i) => h.add(`iso${i}`, false)));
  const start = performance.now();
  await settle(period * 3);
  const reads = all.flatMap((s) => s.readAt.filter((t) => t >= start));
  for (const [i, s] of all.entries()) assert.ok(s.readAt.some((t) => t >= start), `sandbox ${i} was compared within three periods`);
  // Passes: reads less than 3 ms apart. Not all at once (a timer late under load may merge two ticks).
  const sorted = reads.sort((x, y) => x - y);
  let largest = 0;
  for (let i = 0, run = 1; i < sorted.length; i++, run++) {
    if (i + 1 === sorted.length || (sorted[i + 1] ?? 0) - (sorted[i] ?? 0) > 3) {
      largest = Math.max(largest, run);
      run = 0;
    }
  }
  assert.ok(largest <= 10, `at most half the sandboxes in one pass (largest ${largest})`);
  assert.ok(reads.length <= 20 * 4, `about once per period each (${reads.length} reads in three periods)`);
  await h.watch.close();
});

test('an nft listing is reused while the nft monitor is silent; any nft event makes the next comparison list again', async () => {
  const h = harness();
  const a = await h.add('airlock-n1', true);
  const listings = h.listings;
  const reads = a.reads;
  h.ip.emit('[nsid current][ROUTE]10.251.0.0/24 dev al-airlock-n1 scope link ');
  await until(() => a.reads > reads, 'the route event compared the host side');
  assert.equal(h.listings, listings, 'nothing reported a change since the last listing');
  a.state['firewall rules'] = 'missing';
  h.nft.emit('{"delete": {"table": {"family": "inet", "name": "unrelated", "handle": 5}}}');
  h.ip.emit('[nsid current][ROUTE]10.251.0.0/24 dev al-airlock-n1 scope link ');
  await until(() => a.findings.length === 1, 'the next comparison saw the change');
  assert.equal(h.listings, listings + 1, 'listed again after the nft event');
  await h.watch.close();
});

test('the periodic host-side comparison lists the ruleset once per period for every slot, and finds what no event reported', async () => {
  const period = 300;
  const h = harness({ fullCheckMs: period });
  const slots = await Promise.all(Array.from({ length: 12 }, (_, i) => h.add(`airlock-n${i}`, true)));
  const listings = h.listings;
  await settle(period * 3);
  // Ten ticks a period: one listing per tick would be ~30 here.
  assert.ok(h.listings - listings <= 6, `${h.listings - listings} listings in three periods`);
  // A host-side change no event reported (the monitor missed nothing here: the fake state changed).
  const [victim] = slots;
  if (victim === undefined) throw new Error('no sandbox');
  victim.state['firewall rules'] = 'missing';
  await until(() => victim.findings.length === 1, 'the periodic host-side comparison ran');
  assert.deepEqual(victim.findings[0]?.changes, ["firewall rules: the sandbox's table was deleted (0 objects)"]);
  assert.deepEqual(slots.slice(1).flatMap((s) => s.findings), []);
  await h.watch.close();
});

test('a sandbox that ends during its start-up spawns no further marker, and settled() waits for its start-up', async () => {
  let markers = 0;
  let markerRunning = false;
  const h = harness({
    // A marker whose event never comes (the feed is slow): without the end, it would be retried.
    nftMarker: async () => {
      markers++;
      markerRunning = true;
      await settle(20);
      markerRunning = false;
    },
  });
  const watching = h.watch.watch({ slot: { table: 'airlock-n1', hostLink: 'al-airlock-n1' }, baseline: async () => ({}), read: async () => ({}), onDrift: () => undefined });
  await until(() => markers === 1, 'the first marker was spawned');
  watching.stop();
  const started = performance.now();
  await h.watch.settled();
  assert.equal(markerRunning, false, 'settled() returned while the marker was still running');
  assert.ok(performance.now() - started < 5_000, 'settled() waited for the unanswered marker instead of stopping it');
  await settle(100);
  assert.equal(markers, 1, 'a marker was spawned after the sandbox ended');
  await h.watch.close();
});
