/**
 * Gives each sandbox the network its policy asks for, and takes it back. One per controller
 * (CLI run or server): it owns the drift watch, the pool of ready namespaces and the proxies.
 *
 * - `none`: nothing to build; the runtime makes an empty namespace. Still watched (links, routes).
 * - `restricted`: a slot (netns + veth + one nft table) whose only open port is the sandbox's own
 *   egress proxy, which enforces the allowlist. Kept ready in a pool: building one costs ~25 ms.
 * - `full`: a slot with NAT'd forwarding that still drops the host, private ranges and metadata.
 */
import type { AirlockConfig } from '../config/config.ts';
import { ControlError } from '../host/control-error.ts';
import { TRUST_STORE_ENV } from '../isolation/trust-store.ts';
import { SandboxAttachment, type NetworkAttachment, type SlotResources } from './attachment.ts';
import { DriftWatch } from './drift-watch.ts';
import { MonitorProcess } from './drift/monitor-process.ts';
import { namespaceIds } from './drift/namespace-ids.ts';
import { findNetTool, findNetTools, runTool, type NetTools } from './host-tools.ts';
import { checkContext, readHostSide, type NetworkSnapshot } from './snapshot.ts';
import type { AttachedMode } from './nft-rules.ts';
import { checkNetworkRequest, type NetworkRequest } from './policy.ts';
import type { AllowRule, BrokerCa, EgressDecision, InternalService } from './proxy/index.ts';
import type { SlotLease } from './slots.ts';
import { Limiter } from './limiter.ts';
import { ControllerListeners } from './listeners.ts';

interface BuiltSlot {
  lease: SlotLease;
  hostBaseline: NetworkSnapshot;
}

export interface NetworkManagerOptions {
  config: AirlockConfig;
  /** Ready `restricted` namespaces to keep (0: build per request). */
  poolSize?: number;
  /** Every egress decision of every sandbox (metrics, logs). */
  onDecision?: (decision: EgressDecision) => void;
  /**
   * Called once a sandbox's drift watch is in effect (event feeds subscribed, baseline recorded
   * and compared once), with the host pid its network is read through.
   */
  onWatchReady?: (sandboxId: string, pid: number) => void;
  /** The `ip` and `nft` programs; found in system directories when absent. */
  tools?: NetTools;
  /**
   * The controller's listeners, which no proxy may reach (the server adds its API to the same
   * object). Default: the proxies and the inspector only.
   */
  listeners?: ControllerListeners;
}

/** Slot and full-mode operations, loaded on first use (see slot-ops.ts). */
const slotOps = () => import('./slot-ops.ts');

/** How long after a checkout the pool starts building its replacement. */
const REFILL_DELAY_MS = 100;

export class NetworkManager {
  private readonly config: AirlockConfig;
  private readonly poolSize: number;
  private readonly onDecision: (decision: EgressDecision) => void;
  private readonly onWatchReady: (sandboxId: string, pid: number) => void;
  private readonly listeners: ControllerListeners;
  private readonly ready: BuiltSlot[] = [];
  /** Host network changes in flight at once (see Limiter). */
  private readonly hostChanges = new Limiter(2);
  private toolsCache: NetTools | undefined;
  private driftWatch: DriftWatch | undefined;
  private filling: Promise<void> | undefined;
  /** Slot removals still running after their sandbox ended (see `settled`). */
  private readonly teardowns = new Set<Promise<unknown>>();
  private closed = false;

  constructor(options: NetworkManagerOptions) {
    this.config = options.config;
    this.poolSize = options.poolSize ?? 0;
    this.onDecision = options.onDecision ?? (() => undefined);
    this.onWatchReady = options.onWatchReady ?? (() => undefined);
    this.toolsCache = options.tools;
    // Checks the configured services against the controller's listeners (throws naming the service).
    this.listeners = options.listeners ?? new ControllerListeners(options.config.network);
  }

  /** Rejects with NetworkPolicyError naming every problem; allocates nothing. */
  async validate(request: NetworkRequest): Promise<AllowRule[]> {
    return checkNetworkRequest(request, this.config.network);
  }

  async attach(sandboxId: string, request: NetworkRequest): Promise<NetworkAttachment> {
    const rules = await checkNetworkRequest(request, this.config.network);
    if (request.mode === 'none') {
      return new SandboxAttachment({ mode: 'none', drift: this.drift(), env: {}, allowedHosts: [], onWatchReady: (pid) => this.onWatchReady(sandboxId, pid) });
    }
    if (this.closed) throw new ControlError('network', 'the network manager is shut down');
    const built = request.mode === 'restricted' ? (this.ready.shift() ?? (await this.buildSlot('restricted'))) : await this.buildSlot('full');
    const { netnsPath, proxyEnv, releaseSlot, resolvConfFor } = await slotOps();
    // Refill a little later: spawning `ip` blocks the event loop ~2 ms, which would land in this
    // sandbox's cold start.
    setTimeout(() => this.refill(), REFILL_DELAY_MS).unref();
    const { lease, hostBaseline } = built;
    const { slot } = lease;
    const resources: SlotResources = {
      lease,
      hostBaseline,
      netnsPath: netnsPath(slot),
      // Runs in the background: the sandbox's processes are gone, so nothing can use the slot any
      // more, and its caller need not wait ~50 ms for the kernel to remove link, namespace and table.
      destroy: () => {
        const teardown = this.hostChanges
          .run(() => releaseSlot(lease, this.tools()))
          .finally(() => this.teardowns.delete(teardown));
        this.teardowns.add(teardown);
      },
    };
    if (request.mode === 'full') {
      const resolvConf = resolvConfFor(this.config.network.fullModeResolvers);
      return new SandboxAttachment({ mode: 'full', slot: resources, drift: this.drift(), env: {}, allowedHosts: [], resolvConf, onWatchReady: (pid) => this.onWatchReady(sandboxId, pid) });
    }
    const services = request.services.map((name) => this.service(name));
    let attachment: SandboxAttachment | undefined;
    const brokerCa = await brokerCaFor(sandboxId, request, resources);
    try {
      // Loaded on first use: sandboxes without a proxy never pay for it.
      const { startEgressProxy } = await import('./proxy/index.ts');
      resources.proxy = await startEgressProxy({
        sandboxId,
        host: slot.hostAddress,
        port: this.config.network.proxyPort,
        allow: rules,
        services,
        ...(request.brokered === undefined ? {} : { brokered: request.brokered }),
        ...(request.responseRedactor === undefined ? {} : { responseRedactor: request.responseRedactor }),
        ...(brokerCa === undefined ? {} : { brokerCa }),
        controllerListeners: () => this.listeners.list(),
        onDecision: (decision: EgressDecision) => {
          attachment?.record(decision);
          this.onDecision(decision);
        },
      });
    } catch (err) {
      brokerCa?.dispose();
      resources.destroy();
      // Fail closed: a restricted sandbox without its proxy has no enforced allowlist, so none starts.
      throw new ControlError('network.proxy', `cannot start the egress proxy on ${slot.hostAddress}: ${(err as Error).message}`, { cause: err });
    }
    attachment = new SandboxAttachment({
      mode: 'restricted',
      slot: resources,
      drift: this.drift(),
      onWatchReady: (pid) => this.onWatchReady(sandboxId, pid),
      // Why the trust variables here: every process of the sandbox (main and exec'd) gets the network's variables.
      env: { ...proxyEnv(resources.proxy.url, services), ...(brokerCa === undefined ? {} : TRUST_STORE_ENV) },
      allowedHosts: request.allowedHosts,
      ...(brokerCa === undefined ? {} : { trustAnchors: brokerCa.certificatePem }),
    });
    return attachment;
  }

  /** Starts filling the pool of ready restricted namespaces (server start-up). */
  start(): void {
    this.refill();
  }

  /** How many restricted namespaces are ready right now. */
  readyCount(): number {
    return this.ready.length;
  }

  /** Fills the pool now and waits until it is full, or until a build fails (tests and benchmarks). */
  async filled(): Promise<void> {
    while (!this.closed && this.ready.length < this.poolSize) {
      const before = this.ready.length;
      this.refill();
      await this.filling;
      if (this.ready.length === before) return;
    }
    await this.filling;
  }

  /** Waits until every ended sandbox's network is removed from the host. */
  async settled(): Promise<void> {
    while (this.teardowns.size > 0) await Promise.all([...this.teardowns]);
    // The drift watch's monitors stop with the last sandbox: gone too once that is settled.
    await this.driftWatch?.settled();
  }

  /** Releases what crashed controllers left: namespaces, links and tables of dead owners' slots. */
  async reapStale(): Promise<number> {
    const { reapNetworks } = await slotOps();
    return reapNetworks(this.config.network.subnet, this.tools(), this.config.network.instance);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.filling;
    await this.settled();
    await this.driftWatch?.close();
    const slots = this.ready.splice(0);
    if (slots.length === 0) return;
    const { releaseSlot } = await slotOps();
    for (const { lease } of slots) await releaseSlot(lease, this.tools());
  }

  private refill(): void {
    if (this.filling !== undefined || this.closed || this.ready.length >= this.poolSize) return;
    this.filling = (async () => {
      try {
        while (!this.closed && this.ready.length < this.poolSize) this.ready.push(await this.buildSlot('restricted'));
      } catch {
        // The pool is an optimisation: a request that finds it empty builds its own slot and
        // reports the real error, naming the control.
      } finally {
        this.filling = undefined;
      }
    })();
  }

  private buildSlot(mode: AttachedMode): Promise<BuiltSlot> {
    return this.hostChanges.run(() => this.buildSlotNow(mode));
  }

  private async buildSlotNow(mode: AttachedMode): Promise<BuiltSlot> {
    const tools = this.tools();
    const { applySlotMode, checkResolvers, createSlotLink, enableForwarding, leaseSlot, releaseSlot } = await slotOps();
    if (mode === 'full') {
      checkResolvers(this.config.network.fullModeResolvers);
      enableForwarding();
    }
    const lease = leaseSlot(this.config.network.subnet, this.config.network.instance);
    try {
      await createSlotLink(lease.slot, tools);
      await applySlotMode(lease.slot, mode, this.config.network.proxyPort, tools);
      // The state every later check must find again, recorded before any sandbox can run in it.
      const hostBaseline = await readHostSide(lease.slot, checkContext(() => runTool(tools.nft, ['-j', 'list', 'table', 'inet', lease.slot.table])));
      return { lease, hostBaseline };
    } catch (err) {
      await releaseSlot(lease, tools);
      throw err;
    }
  }

  private service(name: string): InternalService {
    const route = this.config.network.services[name];
    if (route === undefined) throw new ControlError('network.services', `no internal service named ${name}`);
    return { name, url: new URL(route.url), methods: route.methods, pathPrefixes: route.pathPrefixes };
  }

  private tools(): NetTools {
    this.toolsCache ??= findNetTools();
    return this.toolsCache;
  }

  /** One tool, looked up alone: `none` sandboxes need `ip` (the event feed) but no nftables. */
  private tool(name: keyof NetTools): string {
    return this.toolsCache?.[name] ?? findNetTool(name);
  }

  private drift(): DriftWatch {
    const { driftCheckMs, driftReadTimeoutMs, driftReadAttempts, driftMonitorLingerMs } = this.config.network;
    const nft = () => this.tool('nft');
    this.driftWatch ??= new DriftWatch({
      listRuleset: (signal) => runTool(nft(), ['-j', 'list', 'ruleset', 'inet'], { timeoutMs: driftReadTimeoutMs, signal }),
      nftMarker: async (name, signal) => {
        await runTool(nft(), ['-f', '-'], { input: `add table inet ${name}\ndelete table inet ${name}\n`, timeoutMs: driftReadTimeoutMs, signal });
      },
      nftFeed: new MonitorProcess('nft monitor', nft, ['-j', 'monitor']),
      // all-nsid: also namespaces the host has an id for (every slot's, any a link was moved into);
      // nsid: ids assigned and deleted, so the watch knows when an id it resolved may name another.
      ipFeed: new MonitorProcess('ip monitor', () => this.tool('ip'), ['-o', 'monitor', 'label', 'all-nsid', 'link', 'address', 'route', 'nsid']),
      namespaceIds: (signal) => namespaceIds(this.tool('ip'), driftReadTimeoutMs, signal),
      fullCheckMs: driftCheckMs,
      feedLingerMs: driftMonitorLingerMs,
      retry: { attempts: driftReadAttempts, backoffMs: Math.min(1000, driftReadTimeoutMs / 2) },
    });
    return this.driftWatch;
  }
}

/**
 * The sandbox's broker CA when it has brokered secrets (else none): made per sandbox, handed to its
 * proxy, which disposes of it on close. Fails closed naming `secrets.broker_ca`.
 */
async function brokerCaFor(sandboxId: string, request: NetworkRequest, resources: SlotResources): Promise<BrokerCa | undefined> {
  if (request.brokered === undefined || request.brokered.length === 0) return undefined;
  try {
    const { createBrokerCa } = await import('./proxy/index.ts');
    return await createBrokerCa(sandboxId);
  } catch (err) {
    resources.destroy();
    throw new ControlError('secrets.broker_ca', `cannot create the sandbox's broker CA: ${(err as Error).message}`, { cause: err });
  }
}
