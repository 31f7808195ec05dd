/**
 * The network of one sandbox while it lives: what the driver joins, what the sandbox's environment
 * says about it, the drift watch, traffic counters, and (restricted) its egress proxy.
 */
import type { SandboxNetwork } from '../isolation/driver.ts';
import type { DriftFinding, DriftWatch } from './drift-watch.ts';
import { namespaceInode } from './drift/namespace-ids.ts';
import type { NetworkMode } from './policy.ts';
import type { AllowRule, EgressDecision, EgressProxy } from './proxy/index.ts';
import { readHostSide, readSandboxSide, type NetworkSnapshot } from './snapshot.ts';
import type { SlotLease } from './slots.ts';
import { readLinkTraffic, type Traffic } from './traffic.ts';

/** Decisions kept per sandbox for the API (the log and metrics keep all of them). */
const MAX_DECISIONS = 500;

export interface NetworkAttachment {
  readonly mode: NetworkMode;
  /** What the isolation driver joins. */
  readonly sandboxNetwork: SandboxNetwork;
  /** Added to the sandbox's environment (proxy variables, service URLs). */
  readonly env: Record<string, string>;
  /** The sandbox's /etc/resolv.conf when the mode needs its own (full), else undefined. */
  readonly resolvConf: string | undefined;
  /** PEM certificates the sandbox must trust besides its image's (its proxy's broker CA), else undefined. */
  readonly trustAnchors: string | undefined;
  /**
   * Snapshots the network state as seen from `pid` and watches it; `onDrift` runs at most once.
   * Resolves once the watch is in effect (event feeds subscribed, baseline recorded and compared
   * once), or once it ended.
   */
  watch(pid: number, onDrift: (finding: DriftFinding) => void): Promise<void>;
  traffic(): Traffic;
  /** The allowlist in force (restricted), as given. */
  allowedHosts(): string[];
  /** Replaces the allowlist of a running restricted sandbox; takes effect on the next request. */
  setAllowlist(entries: string[], rules: AllowRule[]): void;
  decisions(): EgressDecision[];
  /**
   * Stops the watch and the proxy and starts removing the slot from the host (the manager's
   * `settled()`/`close()` wait for that); call after the sandbox's processes are gone.
   */
  release(): Promise<void>;
}

export interface SlotResources {
  lease: SlotLease;
  netnsPath: string;
  proxy?: EgressProxy;
  /** Host-side state (link, routes, table) recorded when the slot was built. */
  hostBaseline: NetworkSnapshot;
  /** Starts removing link, namespace and table (in the background; the manager tracks it). */
  destroy(): void;
}

/** One attachment of any mode; `slot` is absent for `none` (the runtime makes an empty namespace). */
export class SandboxAttachment implements NetworkAttachment {
  readonly mode: NetworkMode;
  readonly sandboxNetwork: SandboxNetwork;
  readonly env: Record<string, string>;
  readonly resolvConf: string | undefined;
  readonly trustAnchors: string | undefined;
  private readonly slot: SlotResources | undefined;
  private readonly drift: DriftWatch;
  private readonly onWatchReady: (pid: number) => void;
  private readonly recent: EgressDecision[] = [];
  private readonly baseTraffic: Traffic;
  private allowEntries: string[];
  private unwatch: (() => void) | undefined;
  private released: Promise<void> | undefined;
  /** Counters as they were when the link went away (an ended sandbox still reports its traffic). */
  private finalTraffic: Traffic | undefined;

  constructor(options: {
    mode: NetworkMode;
    slot?: SlotResources;
    drift: DriftWatch;
    env: Record<string, string>;
    allowedHosts: string[];
    resolvConf?: string;
    trustAnchors?: string;
    /** Called once the watch of the sandbox's network is in effect (see `watch`). */
    onWatchReady?: (pid: number) => void;
  }) {
    this.mode = options.mode;
    this.onWatchReady = options.onWatchReady ?? (() => undefined);
    this.resolvConf = options.resolvConf;
    this.trustAnchors = options.trustAnchors;
    this.slot = options.slot;
    this.drift = options.drift;
    this.env = options.env;
    this.allowEntries = options.allowedHosts;
    this.sandboxNetwork = this.slot === undefined ? { kind: 'isolated' } : { kind: 'attached', netnsPath: this.slot.netnsPath };
    this.baseTraffic = this.slot === undefined ? { rxBytes: 0, txBytes: 0 } : readLinkTraffic(this.slot.lease.slot.hostLink);
  }

  /** Called by the proxy for every decision about this sandbox. */
  record(decision: EgressDecision): void {
    this.recent.push(decision);
    if (this.recent.length > MAX_DECISIONS) this.recent.shift();
  }

  async watch(pid: number, onDrift: (finding: DriftFinding) => void): Promise<void> {
    const slot = this.slot;
    // An isolated namespace is configured by the runtime itself (bubblewrap brings loopback up
    // after the sandbox is released), so only its links are compared: a link moved in is what
    // would connect it; loopback's addresses and routes appearing is not.
    const linksOnly = slot === undefined;
    // The sandbox already ended: there is nothing left to protect.
    if (this.released !== undefined) return;
    const watching = this.drift.watch({
      slot: slot === undefined ? undefined : { table: slot.lease.slot.table, hostLink: slot.lease.slot.hostLink },
      netns: namespaceInode(pid),
      baseline: async () => {
        const inside = await readSandboxSide(pid, linksOnly);
        return inside === undefined || this.released !== undefined ? undefined : { ...inside, ...slot?.hostBaseline };
      },
      read: async (ctx, scope) => {
        if (scope === 'host') {
          if (slot === undefined) return {};
          const host = await readHostSide(slot.lease.slot, ctx);
          // Read after: a sandbox that ended meanwhile is not drift (as in readSandboxSide).
          return namespaceInode(pid) === undefined ? undefined : host;
        }
        const now = await readSandboxSide(pid, linksOnly);
        if (now === undefined || slot === undefined || scope === 'sandbox') return now;
        return { ...now, ...(await readHostSide(slot.lease.slot, ctx)) };
      },
      onDrift,
    });
    this.unwatch = watching.stop;
    await watching.ready;
    if (this.released === undefined) this.onWatchReady(pid);
  }

  traffic(): Traffic {
    if (this.finalTraffic !== undefined) return { ...this.finalTraffic };
    if (this.slot === undefined) return { rxBytes: 0, txBytes: 0 };
    const now = readLinkTraffic(this.slot.lease.slot.hostLink);
    return { rxBytes: Math.max(0, now.rxBytes - this.baseTraffic.rxBytes), txBytes: Math.max(0, now.txBytes - this.baseTraffic.txBytes) };
  }

  allowedHosts(): string[] {
    return [...this.allowEntries];
  }

  setAllowlist(entries: string[], rules: AllowRule[]): void {
    const proxy = this.slot?.proxy;
    if (proxy === undefined) throw new Error(`the allowlist applies to restricted sandboxes only (this one is ${this.mode})`);
    proxy.setAllowlist(rules);
    this.allowEntries = [...entries];
  }

  decisions(): EgressDecision[] {
    return [...this.recent];
  }

  release(): Promise<void> {
    this.released ??= (async () => {
      this.unwatch?.();
      if (this.slot === undefined) return;
      this.finalTraffic = this.traffic();
      await this.slot.proxy?.close();
      this.slot.destroy();
    })();
    return this.released;
  }
}
