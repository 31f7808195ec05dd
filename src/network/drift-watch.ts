/**
 * Watches the network state of running sandboxes against the state recorded when each started,
 * for every sandbox of one controller at once:
 *
 * - events: one `nft monitor` and one `ip monitor` process shared by all sandboxes (started with
 *   the first, stopped with the last); each event is routed to the sandboxes whose facets it could
 *   concern (their table, their host link, the namespace an id names; every sandbox's own side
 *   only when an event names nothing the watch can tie to one), and only those are compared. A
 *   change to a slot's table is itself proof, so a change reverted before the comparison still kills.
 * - one full comparison of each sandbox every `fullCheckMs`, spread over the period by one shared
 *   scheduler (a tenth of the sandboxes' own sides each tenth, every slot's host side once with
 *   one listing): what no event reports (a change inside a namespace the host has no id for) is
 *   still found, at a cost flat in time and per sandbox.
 * - what can't have changed is not read again: an nft listing is reused while the nft monitor is
 *   up and silent (for at most one period), namespace ids are resolved once until an id changes.
 *
 * A read that fails (an `nft` listing timing out under load) is retried with backoff; only if it
 * still fails is the sandbox killed, as unverifiable: never reported as a change that wasn't seen.
 */
import { reason, withRetry, type RetryPolicy } from './drift/retry.ts';
import type { EventFeed } from './drift/monitor-process.ts';
import { parseIpEvent, parseNftEvent, type HostEvent } from './drift/host-events.ts';
import { routeEvent, widen, type Scope } from './drift/routing.ts';
import { checkContext, describeDrift, type CheckContext, type NetworkSnapshot } from './snapshot.ts';
import type { NftItem } from './drift/nft-describe.ts';

/** Why a watched sandbox must die: a change that was seen, or a state that could not be checked. */
export interface DriftFinding {
  /** false: the watch could not read the state (it does not know whether anything changed). */
  verified: boolean;
  /** Each changed facet (`firewall rules: - rule ...`), or what could not be read and why. */
  changes: string[];
}

export interface WatchedNetwork {
  /** The host objects of the sandbox's slot (undefined: an isolated namespace with none). */
  readonly slot: { table: string; hostLink: string } | undefined;
  /** Inode of the sandbox's network namespace (undefined: unknown, so every namespace event concerns it). */
  readonly netns?: number | undefined;
  /** The state to keep, read once the event feeds are subscribed; undefined: the sandbox already ended. */
  baseline(): Promise<NetworkSnapshot | undefined>;
  /** Reads the current state of `scope`'s facets; undefined when the sandbox is ending. */
  read(ctx: CheckContext, scope: Scope): Promise<NetworkSnapshot | undefined>;
  /** Called at most once; the caller kills the sandbox. */
  onDrift(finding: DriftFinding): void;
}

/** A sandbox under watch: `ready` resolves once its baseline is recorded and compared once. */
export interface Watching {
  ready: Promise<void>;
  stop(): void;
}

export interface DriftWatchOptions {
  /** `nft -j list ruleset inet` output; must reject (not hang) when it takes too long. */
  listRuleset(signal: AbortSignal): Promise<string>;
  /**
   * Creates and deletes the empty table `inet <name>` in one atomic transaction (nothing is left,
   * whatever happens): its events mark a point in the nft event stream (see `begin`).
   */
  nftMarker(name: string, signal: AbortSignal): Promise<void>;
  /** The nftables event feed (needed only while a sandbox with a slot is watched). */
  nftFeed: EventFeed;
  /** The rtnetlink (link, address, route, nsid) event feed, all namespaces with an id. */
  ipFeed: EventFeed;
  /**
   * The namespaces the host has an id for and can name: id → namespace inode. Without it (or when
   * it fails) an event in another namespace compares every sandbox.
   */
  namespaceIds?(signal: AbortSignal): Promise<Map<number, number>>;
  /** Period of the full comparison of each watched sandbox. */
  fullCheckMs: number;
  /** How failing reads and feed starts are retried before a sandbox is killed as unverifiable. */
  retry: RetryPolicy;
  /** How long events are gathered before the sandboxes they concern are compared. */
  coalesceMs?: number;
  /**
   * How long a feed keeps running after the last sandbox that needed it (default 0: stopped at
   * once). A controller that serves one-shots back to back would otherwise start and subscribe a
   * monitor process for nearly every sandbox.
   */
  feedLingerMs?: number;
}

interface Entry {
  target: WatchedNetwork;
  /** Undefined until recorded. */
  baseline: NetworkSnapshot | undefined;
  /** Events that are themselves a change of this sandbox's objects. */
  evidence: string[];
  /** Called after its next comparison (or when it ends). */
  compared: (() => void)[];
  ended: boolean;
  /** Its share of the periodic full comparison. */
  slice: Set<Entry> | undefined;
  /** Aborted when it ends (or the watch closes): its start-up stops spawning reads and markers. */
  stopped: AbortController;
}

interface FeedState {
  feed: EventFeed;
  parse: (line: string) => HostEvent | undefined;
  /** Running (subscribed) or starting; undefined when stopped. */
  running: Promise<void> | undefined;
  /** Subscribed and not known to have ended. */
  up: boolean;
  /** A stop in progress (a new start waits for it). */
  stopping: Promise<void>;
  /** The stop scheduled once nothing needs the feed (see `feedLingerMs`). */
  lingering: NodeJS.Timeout | undefined;
}

const DEFAULT_COALESCE_MS = 20;
/** Sandboxes compared between two yields to the event loop (~50 µs of reads each at most). */
const PASS_CHUNK = 32;
/** The full comparison's period is cut in this many ticks; each compares one slice of the sandboxes. */
const SLICES = 10;

/** A read kept while nothing says it changed, with when it was taken. */
interface Cached<T> {
  value: Promise<T>;
  at: number;
}

export class DriftWatch {
  private readonly options: DriftWatchOptions;
  private readonly entries = new Set<Entry>();
  /** How many of `entries` have a slot (the nft feed runs while any has): kept, not counted per end. */
  private slotEntries = 0;
  private readonly byTable = new Map<string, Entry>();
  private readonly byHostLink = new Map<string, Entry>();
  private readonly byNetns = new Map<number, Entry>();
  /** Sandboxes whose namespace is unknown: every namespace event concerns them. */
  private readonly unidentified = new Set<Entry>();
  /** The periodic comparison's slices, one compared per tick. */
  private readonly slices: Set<Entry>[] = Array.from({ length: SLICES }, () => new Set<Entry>());
  private tick = 0;
  private rules: Cached<NftItem[]> | undefined;
  private nsids: Cached<Map<number, number>> | undefined;
  private readonly nft: FeedState;
  private readonly ip: FeedState;
  /** Sandboxes to compare on the next pass, with the facets to read. */
  private readonly pending = new Map<Entry, Scope>();
  private fullPending = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private fullTimer: NodeJS.Timeout | undefined;
  /** The pass running now, if any: passes never overlap, and close() waits for it. */
  private pass: Promise<void> | undefined;
  private readonly abort = new AbortController();
  /** Markers in flight (see `begin`): name → called when its event arrives. */
  private readonly markers = new Map<string, () => void>();
  private markerCount = 0;
  /** Start-ups (`begin`) still running: `settled` and `close` wait for them and their processes. */
  private readonly beginning = new Set<Promise<void>>();
  private closed = false;

  constructor(options: DriftWatchOptions) {
    this.options = options;
    const state = (feed: EventFeed, parse: FeedState['parse']): FeedState => ({ feed, parse, running: undefined, up: false, stopping: Promise.resolve(), lingering: undefined });
    this.nft = state(options.nftFeed, parseNftEvent);
    this.ip = state(options.ipFeed, parseIpEvent);
  }

  /** Starts watching `target`; its baseline is read once the feeds it needs are subscribed. */
  watch(target: WatchedNetwork): Watching {
    const entry: Entry = { target, baseline: undefined, evidence: [], compared: [], ended: false, slice: undefined, stopped: new AbortController() };
    this.entries.add(entry);
    if (target.slot !== undefined) this.slotEntries++;
    // The emptiest slice: each tick compares about as many sandboxes as any other.
    entry.slice = this.slices.reduce((a, b) => (b.size < a.size ? b : a));
    entry.slice.add(entry);
    this.fullTimer ??= setInterval(() => this.rotate(), Math.max(1, this.options.fullCheckMs / SLICES));
    const ready = this.begin(entry);
    const tracked: Promise<void> = ready.catch(() => undefined).finally(() => this.beginning.delete(tracked));
    this.beginning.add(tracked);
    return { ready, stop: () => this.forget(entry) };
  }

  /** Resolves once no monitor stopped with the last sandbox is still exiting (leftover checks). */
  async settled(): Promise<void> {
    while (this.beginning.size > 0) await Promise.allSettled([...this.beginning]);
    await Promise.all([this.nft.stopping, this.ip.stopping]);
  }

  /** Stops every watch (shutdown), waits for a pass in progress and for the feeds to end. */
  async close(): Promise<void> {
    this.closed = true;
    for (const entry of [...this.entries]) this.forget(entry);
    this.abort.abort();
    await this.pass;
    while (this.beginning.size > 0) await Promise.allSettled([...this.beginning]);
    await Promise.all([this.stopFeed(this.nft), this.stopFeed(this.ip)]);
  }

  /**
   * Feeds first, then the baseline: a change after the baseline always produces an event. A slot's
   * table is routed to this sandbox only from a marker on: events of its own build (or of an
   * earlier slot of the same name) still in the pipe under load are never taken for a change.
   */
  private async begin(entry: Entry): Promise<void> {
    const slot = entry.target.slot;
    // An entry that ended during its start-up spawns no further marker or retry: a process still
    // running after its sandbox (and after `settled`) would be a leftover of that sandbox.
    const signal = AbortSignal.any([this.abort.signal, entry.stopped.signal]);
    try {
      await withRetry(() => this.feedsFor(entry), this.options.retry, signal);
      if (slot !== undefined && !entry.ended) await withRetry(() => this.mark(signal), this.options.retry, signal);
    } catch (err) {
      if (!entry.ended) this.kill(entry, { verified: false, changes: [`drift watch could not subscribe to host network events: ${reason(err)}`] });
      return;
    }
    if (entry.ended) return;
    if (slot !== undefined) {
      this.byTable.set(slot.table, entry);
      this.byHostLink.set(slot.hostLink, entry);
    }
    if (entry.target.netns === undefined) this.unidentified.add(entry);
    else this.byNetns.set(entry.target.netns, entry);
    let baseline: NetworkSnapshot | undefined;
    try {
      baseline = await entry.target.baseline();
    } catch (err) {
      if (!entry.ended) this.kill(entry, { verified: false, changes: [`drift watch could not record the network state: ${reason(err)}`] });
      return;
    }
    if (baseline === undefined) return this.forget(entry);
    if (entry.ended) return;
    entry.baseline = baseline;
    // Compared at once: a pooled slot's host side was recorded when it was built.
    const compared = new Promise<void>((resolve) => entry.compared.push(resolve));
    this.schedule(entry, 'all');
    await compared;
  }

  /** Runs a marker transaction and resolves once the nft feed delivered it: every earlier event is in. */
  private async mark(signal: AbortSignal): Promise<void> {
    const name = `airlock-sync-${process.pid}-${++this.markerCount}`;
    const seen = new Promise<void>((resolve) => this.markers.set(name, resolve));
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await this.options.nftMarker(name, signal);
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${this.nft.feed.name} did not report a marker within 10 s`)), 10_000);
        onAbort = () => reject(new Error('the drift watch of this sandbox stopped'));
        signal.addEventListener('abort', onAbort, { once: true });
        if (signal.aborted) onAbort();
      });
      await Promise.race([seen, late]);
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
      this.markers.delete(name);
    }
  }

  /** Resolves once the feeds `entry` needs are subscribed (starting those that are not). */
  private async feedsFor(entry: Entry): Promise<void> {
    const feeds = entry.target.slot === undefined ? [this.ip] : [this.ip, this.nft];
    await Promise.all(feeds.map((f) => this.startFeed(f)));
  }

  private startFeed(state: FeedState): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the drift watch is closed'));
    clearTimeout(state.lingering);
    state.lingering = undefined;
    state.running ??= (async () => {
      await state.stopping;
      await state.feed.start(
        (line) => this.onLine(state, line),
        (message, ended) => this.onTrouble(state, message, ended),
      );
      state.up = true;
    })().catch((err: unknown) => {
      state.running = undefined;
      throw err;
    });
    return state.running;
  }

  /** Whether a watched sandbox needs `state`: every one needs the ip feed, those with a slot the nft feed. */
  private feedNeeded(state: FeedState): boolean {
    return state === this.ip ? this.entries.size > 0 : this.slotEntries > 0;
  }

  /** Stops `state` once nothing has needed it for `feedLingerMs` (at once without a linger or when closed). */
  private releaseFeed(state: FeedState): void {
    const linger = this.options.feedLingerMs ?? 0;
    clearTimeout(state.lingering);
    state.lingering = undefined;
    if (linger <= 0 || this.closed) {
      void this.stopFeed(state);
      return;
    }
    state.lingering = setTimeout(() => {
      state.lingering = undefined;
      if (!this.feedNeeded(state)) void this.stopFeed(state);
    }, linger);
    // A lingering feed never keeps the process alive.
    state.lingering.unref();
  }

  private stopFeed(state: FeedState): Promise<void> {
    clearTimeout(state.lingering);
    state.lingering = undefined;
    if (state.running === undefined) return state.stopping;
    const running = state.running;
    state.running = undefined;
    state.up = false;
    state.stopping = running.catch(() => undefined).then(() => state.feed.stop());
    return state.stopping;
  }

  private onLine(state: FeedState, line: string): void {
    const event = state.parse(line);
    if (event === undefined) return;
    if (event.source === 'nft') {
      // Why: a listing is true only until the nft monitor reports anything.
      this.rules = undefined;
      this.markers.get(event.table)?.();
    }
    // Why: an id assigned or deleted may now name another namespace: resolve again.
    if (event.source === 'ip' && event.kind === 'nsid' && event.nsid === 'current') this.nsids = undefined;
    for (const route of routeEvent(event)) {
      if (route.to === 'every') {
        for (const entry of this.entries) this.schedule(entry, route.scope);
        continue;
      }
      if (route.to === 'namespace') {
        this.toNamespace(route.nsid);
        continue;
      }
      const entry = route.to === 'table' ? this.byTable.get(route.name) : this.byHostLink.get(route.name);
      if (entry === undefined) continue;
      if (route.to === 'table') entry.evidence.push(route.evidence);
      this.schedule(entry, route.scope);
    }
  }

  /**
   * A feed may have missed events (it said so, or it ended): every sandbox is compared now, and an
   * ended feed is restarted (with retries); if it can't be, the sandboxes it served are unverifiable.
   */
  private onTrouble(state: FeedState, message: string, ended: boolean): void {
    // Why: events may be lost, so nothing read before can be trusted to still hold.
    this.rules = undefined;
    this.nsids = undefined;
    this.fullPending = true;
    this.flush();
    // Ended while starting: start() rejects and its caller retries.
    if (!ended || this.closed || !state.up) return;
    state.up = false;
    state.running = undefined;
    const served = [...this.entries].filter((e) => state === this.ip || e.target.slot !== undefined);
    if (served.length === 0) return;
    withRetry(() => this.startFeed(state), this.options.retry, this.abort.signal).then(
      () => {
        this.fullPending = true;
        this.flush();
      },
      (err: unknown) => {
        if (this.closed) return;
        for (const entry of served) {
          if (!entry.ended) this.kill(entry, { verified: false, changes: [`drift watch lost its ${state.feed.name} (${message}) and could not restart it: ${reason(err)}`] });
        }
      },
    );
  }

  /**
   * One tick of the periodic comparison: the next slice of sandboxes, their own side (reads of
   * /proc each); once per period, the host side of every slot (one nft listing shared by all, and
   * two /sys reads each), as one listing per tick would cost more than the sandbox reads it spreads.
   */
  private rotate(): void {
    const tick = this.tick++ % SLICES;
    for (const entry of this.slices[tick] ?? []) this.schedule(entry, 'sandbox');
    if (tick !== 0) return;
    for (const entry of this.entries) if (entry.target.slot !== undefined) this.schedule(entry, 'host');
  }

  /** Compares the sandbox living in the namespace the host knows by `nsid` (sandbox side). */
  private toNamespace(nsid: number): void {
    const every = () => {
      for (const entry of this.entries) this.schedule(entry, 'sandbox');
    };
    const ids = this.namespaceIds();
    if (ids === undefined) return every();
    ids.then(
      (map) => {
        const inode = map.get(nsid);
        // Why: an id with no name the host can resolve may be any sandbox's (an isolated one given
        // an id by a link moved in): every sandbox is compared, fail closed.
        if (inode === undefined) return every();
        const entry = this.byNetns.get(inode);
        if (entry !== undefined) this.schedule(entry, 'sandbox');
        // Why: a sandbox whose namespace is unknown can't be ruled out.
        for (const other of this.unidentified) this.schedule(other, 'sandbox');
      },
      // Why: an id that can't be resolved concerns any sandbox.
      every,
    );
  }

  /** id → namespace inode, resolved once until an id changes (for at most one period). */
  private namespaceIds(): Promise<Map<number, number>> | undefined {
    const lookup = this.options.namespaceIds;
    if (lookup === undefined) return undefined;
    return this.cached(
      () => this.nsids,
      (c) => (this.nsids = c),
      () => lookup(this.abort.signal),
      this.ip.up,
    );
  }

  /** `current()` while it is fresh (and `fresh` holds), else a new read that replaces it unless it fails. */
  private cached<T>(current: () => Cached<T> | undefined, set: (c: Cached<T> | undefined) => void, read: () => Promise<T>, fresh: boolean): Promise<T> {
    const now = Date.now();
    const held = current();
    if (held !== undefined && fresh && now - held.at < this.options.fullCheckMs) return held.value;
    const next: Cached<T> = { value: read(), at: now };
    set(next);
    next.value.catch(() => {
      if (current() === next) set(undefined);
    });
    return next.value;
  }

  private schedule(entry: Entry, scope: Scope): void {
    if (entry.ended) return;
    this.pending.set(entry, widen(this.pending.get(entry), scope));
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, this.options.coalesceMs ?? DEFAULT_COALESCE_MS);
  }

  /** Runs one pass over what is pending (or everything), unless one is running already. */
  private flush(): void {
    if (this.pass !== undefined || this.closed) return;
    const work = new Map<Entry, Scope>(this.fullPending ? [...this.entries].map((e) => [e, 'all'] as const) : []);
    for (const [entry, scope] of this.pending) if (!work.has(entry)) work.set(entry, scope);
    this.pending.clear();
    this.fullPending = false;
    const ready = [...work].filter(([entry]) => entry.baseline !== undefined && !entry.ended);
    if (ready.length === 0) return;
    this.pass = this.compare(ready).finally(() => {
      this.pass = undefined;
      if (this.pending.size > 0 || this.fullPending) this.flush();
    });
  }

  private async compare(work: [Entry, Scope][]): Promise<void> {
    const signal = this.abort.signal;
    // One listing for the whole pass, retried as a whole: every sandbox shares its answer.
    const fresh = checkContext(() =>
      withRetry(() => this.options.listRuleset(signal), this.options.retry, signal).catch((err: unknown) => {
        throw new Error(`drift watch could not read the nft ruleset: ${reason(err)}`, { cause: err });
      }),
    );
    // Why: a listing stays true until the nft monitor reports a change (any change to a slot's
    // table is itself evidence, even reverted), so while that feed is up and silent it is reused,
    // for at most one period; host routes are read fresh every pass.
    const ctx: CheckContext = {
      hostRoutes: fresh.hostRoutes,
      ruleset: () => this.cached(() => this.rules, (c) => (this.rules = c), fresh.ruleset, this.nft.up),
    };
    // Why in chunks: the sandbox-side reads are synchronous (snapshot.ts); a pass over every
    // sandbox yields to the event loop between chunks instead of holding it for all of them.
    for (let i = 0; i < work.length; i += PASS_CHUNK) {
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      await Promise.all(work.slice(i, i + PASS_CHUNK).map(([entry, scope]) => this.compareOne(entry, scope, ctx)));
    }
  }

  private async compareOne(entry: Entry, scope: Scope, ctx: CheckContext): Promise<void> {
    let now: NetworkSnapshot | undefined;
    let failure: string | undefined;
    try {
      now = await entry.target.read(ctx, scope);
    } catch (err) {
      failure = (err as Error).message;
    }
    for (const done of entry.compared.splice(0)) done();
    if (entry.ended || this.closed || entry.baseline === undefined) return;
    const evidence = entry.evidence.splice(0);
    if (failure !== undefined) {
      // A change already seen is reported as one; otherwise the watch only knows it can't see.
      if (evidence.length > 0) return this.kill(entry, { verified: true, changes: evidence });
      return this.kill(entry, { verified: false, changes: [failure] });
    }
    if (now === undefined) return; // The sandbox is ending: nothing left to protect.
    const baseline = entry.baseline;
    const compared = Object.fromEntries(Object.keys(now).map((facet) => [facet, baseline[facet] ?? '']));
    const changes = describeDrift(compared, now);
    if (changes.length === 0 && evidence.length === 0) return;
    // The events name what the comparison can't (a change already reverted); where the
    // comparison shows the table's change itself, they would only say it twice.
    const seen = changes.some((c) => c.startsWith('firewall rules:')) ? [] : evidence;
    const reverted = changes.length === 0 ? ['(the state was back to its baseline when compared: the change was reverted)'] : [];
    this.kill(entry, { verified: true, changes: [...changes, ...seen, ...reverted] });
  }

  private kill(entry: Entry, finding: DriftFinding): void {
    this.forget(entry);
    entry.target.onDrift(finding);
  }

  private forget(entry: Entry): void {
    if (entry.ended) return;
    entry.ended = true;
    entry.stopped.abort();
    for (const done of entry.compared.splice(0)) done();
    this.entries.delete(entry);
    if (entry.target.slot !== undefined) this.slotEntries--;
    this.pending.delete(entry);
    entry.slice?.delete(entry);
    this.unidentified.delete(entry);
    const netns = entry.target.netns;
    if (netns !== undefined && this.byNetns.get(netns) === entry) this.byNetns.delete(netns);
    const slot = entry.target.slot;
    if (slot !== undefined) {
      if (this.byTable.get(slot.table) === entry) this.byTable.delete(slot.table);
      if (this.byHostLink.get(slot.hostLink) === entry) this.byHostLink.delete(slot.hostLink);
    }
    // Nothing left to watch: no timer outlives the last sandbox, nor a monitor process its linger.
    if (this.entries.size === 0) {
      if (this.fullTimer !== undefined) clearInterval(this.fullTimer);
      if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
      this.fullTimer = undefined;
      this.flushTimer = undefined;
    }
    for (const feed of [this.ip, this.nft]) if (!this.feedNeeded(feed)) this.releaseFeed(feed);
  }
}
