/**
 * The sandbox service behind `airlock serve`: one-shot executions, persistent sandboxes with
 * exec and files, warm pools, the TTL reaper, the concurrency cap and crash recovery.
 */
import { availableParallelism } from 'node:os';
import type { AirlockConfig } from '../config/config.ts';
import { type ForensicAccess, type IsolationDriver } from '../isolation/driver.ts';
import { RefusedControlError } from '../host/control-error.ts';
import { createDriver, IMPLEMENTED_RUNTIMES, type ImplementedRuntime } from '../isolation/drivers.ts';
import { AGENT_BINARY_NAME, ensureAgent } from '../agent/build.ts';
import { randomUUID } from 'node:crypto';
import { CONTRACT_VIOLATION, executeOnce, REVOKED, sandboxIdOf, type ExecutionContext } from './execute.ts';
import { DenialWatch, ensureSeccompAuditHelper } from './denials/watch.ts';
import { responseFor, type ResponsePolicy } from './denials/response.ts';
import { refusalAsServiceError, ServiceError } from './errors.ts';
import { activePolicyHash } from './policy-bundle.ts';
import { BASE_ENV, commandFor, driverFor, imageFor, limitsFor } from './prepare.ts';
import { PersistentSandbox } from './persistent.ts';
import { ImageReverifier } from '../images/reverify.ts';
import { imageRunConfig } from '../images/oci/run-defaults.ts';
import type { Image } from '../images/image.ts';
import { resolveImage } from '../images/store.ts';
import type { ImageRunConfig } from '../images/oci/types.ts';
import { imageIntegrityViolation } from './violations.ts';
import { brokeredSecretViolation } from './brokered-violation.ts';
import { egressRefusalViolation, refusalKey } from './egress-violation.ts';
import { poolKey, WarmPool } from './pool.ts';
import { StartQueue } from './start-queue.ts';
import { Supervisor } from './supervision/supervisor.ts';
import { OneShotRegistry, type RunningOneShot } from './one-shots.ts';
import { resolveSandboxSecrets, SandboxRedactors, withBrokered } from './secrets.ts';
import { secretRegistryFor, type SecretRegistry, type SecretValue } from '../secrets/index.ts';
import { SandboxRegistry, type SandboxRecord } from './registry.ts';
import type { ExecutionResult, SecurityViolation } from './result.ts';
import type { EgressDecision } from '../network/proxy/index.ts';
import type {
  CancelledExecution, CreateSandboxOptions, ExecOptions, ExecSession, FileEntry, HealthReport, OneShotExecution, OneShotRequest, RunningExec,
  SandboxInfo, SandboxNetworkInfo, SandboxServiceApi, ServiceObserver, ServiceStatus,
  SandboxOwnership,
} from './service-types.ts';
import { NetworkManager } from '../network/manager.ts';
import type { ControllerListeners } from '../network/listeners.ts';
import { NetworkPolicyError, NO_NETWORK, type NetworkRequest } from '../network/policy.ts';

const VERSION = '0.1.0';
const REAPER_MS = 1000;
/** Sandboxes starting at once: enough to overlap their waits on the kernel, few enough to keep the loop free. */
const START_CONCURRENCY = Math.max(2, availableParallelism());

export interface ServiceOptions {
  config: AirlockConfig;
  /**
   * Hash of the Cedar bundle in force (`PolicyEngine.hash` of the engine the caller loaded and
   * validated): part of `policy_hash`. Required: the service never guesses which policy decides.
   */
  policyBundleHash: string;
  observer?: ServiceObserver;
  /** Drivers to use instead of the real ones (tests of the service logic). */
  drivers?: Map<ImplementedRuntime, IsolationDriver>;
  /** The controller's listeners, which sandboxes never reach (the server adds its API once it listens). */
  listeners?: ControllerListeners;
  /** Where secrets come from (default: the configuration's: the encrypted store, then the environment). */
  secrets?: SecretRegistry;
  /**
   * Checks each egress decision against the owner's behavior contract (src/contracts); a violation
   * is recorded on the sandbox, and with `kill` the sandbox ends (`contract_violation`).
   */
  egressGuard?: (owner: string, decision: EgressDecision) => Promise<{ violation: SecurityViolation; kill: boolean } | undefined>;
  /**
   * Seccomp denial reporting for namespace sandboxes (on unless `enabled: false`): the response
   * per severity, and the revocation a `kill_and_revoke` response calls (absent: kill only).
   */
  denials?: { enabled?: boolean; policy?: ResponsePolicy; revokeAgent?: (agentId: string, reason: string) => void };
}

/** What an egress decision is about: a persistent sandbox, a running one-shot, or neither (already gone). */
interface EgressTarget {
  readonly record?: SandboxRecord;
  readonly oneShot?: RunningOneShot;
}

/** Distinct egress refusals recorded as violations per sandbox; later ones are counted in metrics only. */
const MAX_EGRESS_VIOLATIONS = 32;

export class SandboxService implements SandboxServiceApi {
  readonly policyHash: string;
  private readonly config: AirlockConfig;
  private readonly observer: ServiceObserver;
  private readonly drivers: Map<ImplementedRuntime, IsolationDriver>;
  private readonly unavailable = new Map<string, string>();
  private readonly registry: SandboxRegistry;
  private readonly networks: NetworkManager;
  private readonly pools = new Map<string, WarmPool>();
  /** Pooled sandboxes whose first command has not finished, and the pool to refill once it has. */
  private readonly checkouts = new Map<string, WarmPool>();
  /** Paces sandbox start-up so that a burst of requests never holds the event loop. */
  private readonly starts = new StartQueue(START_CONCURRENCY);
  /** Watches every sandbox's limits: kernel events, and one shared sampler for what has none. */
  private readonly supervisor: Supervisor;
  /** Manifests already verified by this process (see resolveImage). */
  private readonly manifests = new Map<string, string>();
  private readonly oneShots = new OneShotRegistry();
  /** Re-hashes the images in use on a schedule; a failed image is out of service. */
  private readonly reverifier: ImageReverifier;
  private readonly secrets: SecretRegistry;
  private readonly redactors = new SandboxRedactors();
  /** The egress refusals already recorded, per running sandbox or one-shot (gone with it). */
  private readonly egressRefusals = new WeakMap<object, Set<string>>();
  private agent: { dir: string; binary: string } | undefined;
  private reaper: NodeJS.Timeout | undefined;
  private readonly egressGuard: ServiceOptions['egressGuard'];
  private closing = false;
  private readonly denialOptions: ServiceOptions['denials'];
  private denialWatch: DenialWatch | undefined;

  constructor(options: ServiceOptions) {
    this.config = options.config;
    this.egressGuard = options.egressGuard;
    this.observer = options.observer ?? {};
    this.denialOptions = options.denials;
    this.policyHash = activePolicyHash(options.config, options.policyBundleHash);
    this.drivers = options.drivers ?? new Map(IMPLEMENTED_RUNTIMES.map((r) => [r, createDriver(r, options.config)]));
    this.registry = new SandboxRegistry();
    this.secrets = options.secrets ?? secretRegistryFor(options.config);
    this.reverifier = new ImageReverifier({
      config: options.config,
      onFailure: (failure) => {
        this.observer.violationRecorded?.(imageIntegrityViolation(failure));
        // Why: warm sandboxes of a tampered image must not be handed out, nor refilled from it.
        for (const [key, pool] of this.pools) {
          if (key.split('|')[1] !== failure.digest) continue;
          this.pools.delete(key);
          void pool.close();
        }
      },
    });
    this.supervisor = new Supervisor({ onFallback: (id, reason) => this.observer.supervisionFallback?.(id, reason) });
    this.networks = new NetworkManager({
      config: options.config,
      poolSize: options.config.network.poolSize,
      // Why redacted here: what a proxy reports (logs, metrics, audit) is sandbox-chosen text.
      onDecision: (decision) => {
        this.observer.egressDecision?.(this.redactors.decision(decision));
        // The sandbox the decision is about, looked up once for the three checks below.
        const target = this.egressTarget(decision.sandboxId);
        this.recordBrokeredMisuse(decision, target);
        this.recordEgressRefusal(decision, target);
        void this.guardEgress(decision, target);
      },
      ...(options.listeners === undefined ? {} : { listeners: options.listeners }),
    });
  }

  /**
   * Probes runtimes, reaps what a crashed predecessor left, builds the agent, starts pools and the
   * reaper. A pool that can't start (unknown image, unavailable runtime) doesn't stop the service;
   * it is returned in `poolErrors` for the caller to report.
   */
  async start(): Promise<{ reaped: string[]; poolErrors: string[] }> {
    const reaped: string[] = [];
    for (const [runtime, driver] of this.drivers) {
      const availability = await driver.probe();
      if (!availability.available) this.unavailable.set(runtime, availability.reason ?? 'unavailable');
      else reaped.push(...(await driver.reapStale()));
    }
    // Networks of crashed controllers go first, and the pool of ready namespaces starts filling.
    try {
      await this.networks.reapStale();
      this.networks.start();
    } catch (err) {
      // Without ip/nft only `none` works; restricted/full requests fail closed, naming the tool.
      this.unavailable.set('network', (err as Error).message);
    }
    const agent = await ensureAgent(this.config);
    this.agent = { dir: agent.dir, binary: AGENT_BINARY_NAME };
    if (this.denialOptions?.enabled !== false && this.drivers.has('namespace') && !this.unavailable.has('namespace')) {
      try {
        this.denialWatch = await DenialWatch.start((await ensureSeccompAuditHelper(this.config.stateDir)).path);
      } catch (err) {
        // Fail closed: a namespace sandbox whose denials nobody would see doesn't start.
        this.unavailable.set('namespace', (err as Error).message);
      }
    }
    this.reaper = setInterval(() => void this.reapExpired(), REAPER_MS);
    this.reaper.unref();
    this.reverifier.start();
    const poolErrors: string[] = [];
    for (const pool of this.config.service.pools) {
      await this.startPool(pool.runtime, pool.image, pool.size, pool.limits).catch((err: Error) => {
        poolErrors.push(`pool ${pool.runtime}/${pool.image}: ${err.message}`);
      });
    }
    return { reaped, poolErrors };
  }

  private async startPool(runtime: ImplementedRuntime, imageName: string, size: number, requested: CreateSandboxOptions['limits']): Promise<void> {
    if (size === 0 || this.unavailable.has(runtime)) return;
    const image = await this.imageInService(imageName);
    const limits = limitsFor(this.config, requested);
    const key = poolKey({ runtime, imageDigest: image.digest, limits });
    const driver = driverFor(this.drivers, this.unavailable, runtime);
    const pool = new WarmPool(key, size, () => this.startSandbox(driver, image, limits, [], NO_NETWORK), {
      onChange: (ready) => this.observer.poolChanged?.(key, ready),
    });
    this.pools.set(key, pool);
    pool.refill();
  }

  async execute(request: OneShotRequest): Promise<ExecutionResult> {
    return (await this.startExecution(request)).result;
  }

  async startExecution(request: OneShotRequest): Promise<OneShotExecution> {
    this.checkPolicy(request.expectedPolicyHash);
    // At the cap the refusal comes first, before any file is read or helper spawned: a 429 costs nothing.
    // (Checked again below, once the awaits before this run is counted are over.)
    this.reserveCapacity();
    const driver = driverFor(this.drivers, this.unavailable, request.runtime);
    const limits = limitsFor(this.config, request.limits);
    const { argv, stdin } = commandFor(request);
    const image = await this.imageInService(request.image, request.pinnedImage);
    const network = request.network ?? NO_NETWORK;
    await this.checkNetwork(network);
    const sandboxSecrets = await resolveSandboxSecrets(this.secrets, request.secrets);
    const secrets = sandboxSecrets.files;
    const brokeredNetwork = withBrokered(network, sandboxSecrets);
    this.reserveCapacity();
    // Admitted: the id exists from here on, listed by status() and cancellable, before the sandbox does.
    const executionId = randomUUID();
    const controller = new AbortController();
    const forgetSecrets = this.redactors.register(sandboxIdOf(executionId), sandboxSecrets.redact);
    // What the proxy and the contract find while it runs (egress refusals, brokered misuse): part of its result.
    const runTimeViolations: SecurityViolation[] = [];
    const result = executeOnce(
      {
        image, limits, env: { ...BASE_ENV, ...request.env }, mounts: request.mounts, workdir: request.workdir ?? '/tmp', argv, network: brokeredNetwork,
        executionId, signal: controller.signal, ...(stdin === undefined ? {} : { stdin }), ...(secrets.length === 0 ? {} : { secrets }),
        ...(request.onStdout === undefined ? {} : { onStdout: request.onStdout }), ...(request.onStderr === undefined ? {} : { onStderr: request.onStderr }),
      },
      { driver, network: this.networks, policyHash: this.policyHash, starts: this.starts, supervisor: this.supervisor, ...this.denialContext(() => request.agentId) },
    ).then(
      (run) => {
        const r = runTimeViolations.length === 0 ? run : { ...run, security_violations: [...run.security_violations, ...runTimeViolations] };
        this.observer.executionFinished?.(r);
        return r;
      },
      (err: unknown) => {
        throw refusalAsServiceError(err);
      },
    );
    this.oneShots.add({ executionId, agentId: request.agentId, runtime: request.runtime, started: Date.now(), controller, violations: runTimeViolations }, result);
    // Why: a revocation between admission and this registration found nothing of this run to end.
    this.observer.executionStarted?.({ executionId, agentId: request.agentId });
    // Marked handled here: the caller awaits it; a refusal must not count as unhandled meanwhile.
    result.then(forgetSecrets, forgetSecrets);
    return { executionId, cancel: () => controller.abort(), result };
  }

  cancelExecution(executionId: string): Promise<CancelledExecution> {
    return this.oneShots.cancel(executionId);
  }

  async create(options: CreateSandboxOptions): Promise<SandboxInfo> {
    const driver = driverFor(this.drivers, this.unavailable, options.runtime);
    const limits = limitsFor(this.config, options.limits);
    const ttl = this.ttl(options.ttlSeconds);
    const idleTimeoutSeconds = options.idleTimeoutSeconds === undefined ? undefined : this.ttl(options.idleTimeoutSeconds, 'idle_timeout_seconds');
    const image = await this.imageInService(options.image, options.pinnedImage);
    const network = options.network ?? NO_NETWORK;
    await this.checkNetwork(network);
    const sandboxSecrets = await resolveSandboxSecrets(this.secrets, options.secrets);
    const secrets = sandboxSecrets.files;
    const brokeredNetwork = withBrokered(network, sandboxSecrets);
    this.reserveCapacity();
    // Pooled sandboxes have no network (`none`) and no secrets; any other request gets a sandbox of its own.
    const poolable = options.mounts.length === 0 && network.mode === 'none' && secrets.length === 0;
    const pool = poolable ? this.pools.get(poolKey({ runtime: options.runtime, imageDigest: image.digest, limits })) : undefined;
    const pooled = pool?.take();
    if (pool !== undefined) this.observer.poolCheckout?.(pool.key, pooled !== undefined);
    const sandbox = pooled ?? (await this.startSandbox(driver, image, limits, options.mounts, brokeredNetwork, secrets));
    const record = this.registry.add(sandbox, {
      runtime: options.runtime,
      imageName: options.image ?? this.config.defaultImage,
      metadata: options.metadata,
      env: options.env,
      agentId: options.agentId ?? '',
      mounts: options.mounts,
      ttlSeconds: ttl,
      idleTimeoutSeconds,
      pooled: pooled !== undefined,
      services: network.services,
    });
    if (pooled !== undefined && pool !== undefined) this.checkouts.set(sandbox.id, pool);
    const forgetSecrets = this.redactors.register(sandbox.id, sandboxSecrets.redact);
    sandbox.onEnd(() => {
      forgetSecrets();
      this.checkouts.delete(sandbox.id);
      this.observer.sandboxEnded?.(this.registry.info(record));
    });
    this.observer.sandboxCreated?.(this.registry.info(record), pooled !== undefined ? 0 : sandbox.coldStartMs);
    return this.registry.info(record);
  }

  private async startSandbox(
    driver: IsolationDriver,
    image: Awaited<ReturnType<typeof imageFor>>,
    limits: ReturnType<typeof limitsFor>,
    mounts: CreateSandboxOptions['mounts'],
    network: NetworkRequest,
    secrets: readonly SecretValue[] = [],
  ): Promise<PersistentSandbox> {
    const agent = this.agent;
    if (agent === undefined) throw new ServiceError('shutting_down', 'service is not started');
    try {
      return await PersistentSandbox.start({
        driver, image, limits, mounts, agentDir: agent.dir, agentBinary: agent.binary, network, networks: this.networks, starts: this.starts, supervisor: this.supervisor, secrets,
        ...this.denialContext((sandboxId) => this.registry.find(sandboxId)?.agentId),
        onViolation: (v) => this.observer.violationRecorded?.(v),
      });
    } catch (err) {
      if (err instanceof ServiceError) throw err;
      if (err instanceof RefusedControlError) throw refusalAsServiceError(err);
      // A ControlError's message already starts with the control's name.
      throw new ServiceError('control_failed', (err as Error).message, { cause: err });
    }
  }

  list(): SandboxInfo[] {
    return this.registry.all().map((r) => this.registry.info(r));
  }

  get(id: string): SandboxInfo {
    return this.registry.info(this.record(id));
  }

  ownership(id: string): SandboxOwnership {
    return this.registry.ownership(this.record(id));
  }

  /** The host-side view of sandbox `id` for a forensic capture; undefined when its driver has none. */
  forensicAccess(id: string): ForensicAccess | undefined {
    return this.record(id).sandbox.forensicAccess();
  }

  async kill(id: string): Promise<SandboxInfo> {
    const record = this.record(id);
    await record.sandbox.end('killed');
    return this.registry.info(record);
  }

  async endAgent(agentId: string): Promise<{ sandboxes: string[]; executions: string[] }> {
    const sandboxes = this.registry.running().filter((r) => r.agentId === agentId);
    const executions = this.oneShots.running().filter((e) => e.agentId === agentId);
    // Why all at once, not one after another: revocation must end them within a second however many there are.
    for (const e of executions) e.controller.abort(REVOKED);
    await Promise.all([...sandboxes.map((r) => r.sandbox.end(REVOKED)), ...executions.map((e) => e.ended)]);
    return { sandboxes: sandboxes.map((r) => r.sandbox.id), executions: executions.map((e) => e.executionId) };
  }

  /** Records a brokered secret's placeholder sent to a host it is not bound to as a violation on its sandbox. */
  private recordBrokeredMisuse(decision: EgressDecision, { record, oneShot }: EgressTarget): void {
    const violation = brokeredSecretViolation(decision);
    if (violation !== undefined) this.recordRunTimeViolation(record, violation, oneShot);
  }

  /**
   * An egress refusal as a violation on its sandbox (egress-violation.ts). The same attempt again
   * (type, host, port) is recorded once, and at most {@link MAX_EGRESS_VIOLATIONS} per sandbox:
   * Why: a loop of refused requests must not flood the result and the audit log (the egress
   * metrics still count every one).
   */
  private recordEgressRefusal(decision: EgressDecision, { record, oneShot }: EgressTarget): void {
    const violation = egressRefusalViolation(decision);
    if (violation === undefined) return;
    const owner: object | undefined = record ?? oneShot;
    if (owner === undefined) return;
    const seen = this.egressRefusals.get(owner) ?? new Set<string>();
    this.egressRefusals.set(owner, seen);
    const key = refusalKey(violation);
    if (seen.has(key) || seen.size >= MAX_EGRESS_VIOLATIONS) return;
    seen.add(key);
    this.recordRunTimeViolation(record, violation, oneShot);
    // The configured response per severity (violations.response), as for a seccomp denial.
    const response = responseFor(violation.severity, this.config.violations.response);
    if (response === 'record') return;
    const agentId = record?.agentId ?? oneShot?.agentId;
    if (response === 'kill_and_revoke' && agentId !== undefined && agentId !== '') this.denialOptions?.revokeAgent?.(agentId, `${violation.violation_type} in sandbox ${decision.sandboxId}: ${violation.description}`);
    if (record !== undefined) void record.sandbox.end(response === 'kill_and_revoke' ? REVOKED : 'killed');
    else oneShot?.controller.abort(response === 'kill_and_revoke' ? REVOKED : 'killed');
  }

  recordViolation(id: string, violation: SecurityViolation): void {
    const record = this.registry.find(id);
    if (record === undefined || record.sandbox.endReason !== undefined) return;
    this.recordRunTimeViolation(record, violation);
  }

  /** A violation seen while a sandbox runs: kept on it (persistent `record`, or the `oneShot`'s result), and reported. */
  private recordRunTimeViolation(record: SandboxRecord | undefined, violation: SecurityViolation, oneShot?: RunningOneShot): void {
    record?.sandbox.violations.push(violation);
    oneShot?.violations.push(violation);
    this.observer.violationRecorded?.(violation);
  }

  /** The persistent sandbox with the driver id `sandboxId`, else the running one-shot with it, if any. */
  private egressTarget(sandboxId: string): EgressTarget {
    const record = this.registry.find(sandboxId);
    if (record !== undefined) return { record };
    const oneShot = this.oneShots.running().find((e) => sandboxIdOf(e.executionId) === sandboxId);
    return oneShot === undefined ? {} : { oneShot };
  }

  /** Holds one egress decision to the owner's contract (see ServiceOptions.egressGuard). */
  private async guardEgress(decision: EgressDecision, { record, oneShot }: EgressTarget): Promise<void> {
    if (this.egressGuard === undefined) return;
    const owner = record?.agentId ?? oneShot?.agentId;
    if (owner === undefined || owner === '') return;
    const outcome = await this.egressGuard(owner, decision).catch(() => undefined);
    if (outcome === undefined) return;
    this.recordRunTimeViolation(record, outcome.violation, oneShot);
    if (!outcome.kill) return;
    if (record !== undefined) await record.sandbox.end('contract_violation');
    else oneShot?.controller.abort(CONTRACT_VIOLATION);
  }

  setTimeout(id: string, ttlSeconds: number): SandboxInfo {
    const record = this.running(id);
    record.expiresAt = Date.now() + this.ttl(ttlSeconds) * 1000;
    return this.registry.info(record);
  }

  async exec(id: string, options: ExecOptions): Promise<ExecSession> {
    const record = this.running(id);
    const session = await record.sandbox.exec({ ...options, env: { ...record.env, ...options.env } });
    record.idle?.hold(session.result);
    const pool = this.checkouts.get(id);
    if (pool !== undefined) {
      // Why after: the replacement's start-up would otherwise compete with this first command.
      this.checkouts.delete(id);
      void session.result.finally(() => pool.checkoutUsed());
    }
    return session;
  }

  listExecs(id: string): RunningExec[] {
    return this.running(id).sandbox.runningExecs();
  }

  killExec(id: string, execId: string): void {
    if (!this.running(id).sandbox.killExec(execId)) {
      throw new ServiceError('execution_not_found', `no command with exec id ${execId} is running in sandbox ${id}`);
    }
  }

  readFile(id: string, path: string): Promise<Buffer> {
    return this.running(id).sandbox.readFile(path, this.config.service.fileMaxBytes);
  }

  async writeFile(id: string, path: string, data: Buffer, mode?: number): Promise<void> {
    if (data.length > this.config.service.fileMaxBytes) {
      throw new ServiceError('payload_too_large', `file is ${data.length} bytes; the limit is ${this.config.service.fileMaxBytes}`);
    }
    await this.running(id).sandbox.writeFile(path, data, mode);
  }

  listFiles(id: string, path: string): Promise<FileEntry[]> {
    return this.running(id).sandbox.listFiles(path);
  }

  network(id: string): SandboxNetworkInfo {
    const record = this.record(id);
    const { network } = record.sandbox;
    const traffic = network.traffic();
    return {
      network_policy: network.mode,
      allowed_hosts: network.allowedHosts(),
      services: record.services,
      network_rx_bytes: traffic.rxBytes,
      network_tx_bytes: traffic.txBytes,
      decisions: network.decisions().map((d) => record.sandbox.redactDecision(d)),
      allowlist_changes: [...record.allowlistChanges],
    };
  }

  async setAllowlist(id: string, allowedHosts: string[]): Promise<SandboxNetworkInfo> {
    const record = this.running(id);
    const { network } = record.sandbox;
    if (network.mode !== 'restricted') {
      throw new ServiceError('invalid_request', `allowed_hosts: sandbox ${id} has network_policy ${network.mode}; only restricted sandboxes have an allowlist`);
    }
    const rules = await this.checkNetwork({ mode: 'restricted', allowedHosts, services: record.services });
    // The sandbox may have ended while the allowlist was checked: its released network takes no rules.
    this.running(id);
    network.setAllowlist(allowedHosts, rules);
    record.allowlistChanges.push({ at: new Date().toISOString(), allowed_hosts: [...allowedHosts] });
    this.observer.allowlistChanged?.(id, [...allowedHosts]);
    return this.network(id);
  }

  /** What `name` resolves to now, verified as every start verifies it (see SandboxServiceApi.pinImage). */
  async pinImage(name: string | undefined): Promise<Image | undefined> {
    return resolveImage(this.config, name ?? this.config.defaultImage, this.manifests).catch(() => undefined);
  }

  /** The run configuration of an image (a name, or as pinned): its defaults are filled in before admission (src/images/oci/run-defaults.ts). */
  async imageRunConfig(image: string | Image | undefined): Promise<ImageRunConfig | null> {
    return imageRunConfig(this.config, image ?? this.config.defaultImage, this.manifests);
  }

  status(): ServiceStatus {
    const now = Date.now();
    const oneShots = this.oneShots.running().map((o) => ({
      execution_id: o.executionId, agent_id: o.agentId, runtime: o.runtime, uptime_seconds: (now - o.started) / 1000,
      pod_name: sandboxIdOf(o.executionId), kind: 'execution' as const,
    }));
    const persistent = this.registry.running().map((r) => ({
      execution_id: r.sandbox.id, agent_id: r.agentId, runtime: r.runtime, uptime_seconds: (now - r.createdAt) / 1000, pod_name: r.sandbox.id, kind: 'sandbox' as const,
    }));
    const active = [...oneShots, ...persistent];
    return { active_sandboxes: active, total_count: active.length };
  }

  async health(): Promise<HealthReport> {
    const runtimes = [...this.drivers.keys()].filter((r) => !this.unavailable.has(r));
    return {
      status: runtimes.length > 0 && !this.closing ? 'healthy' : 'degraded',
      service: 'airlock',
      version: VERSION,
      policy_hash: this.policyHash,
      runtimes_available: runtimes,
      active_sandboxes: this.activeCount(),
    };
  }

  /** Stops pools and the reaper and ends every sandbox; running one-shots end `killed` (their callers get the result). */
  async shutdown(): Promise<void> {
    this.closing = true;
    clearInterval(this.reaper);
    this.reverifier.stop();
    await this.oneShots.cancelAll();
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    await Promise.all(this.registry.running().map((r) => r.sandbox.end('shutdown')));
    await this.networks.close();
    this.supervisor.close();
    this.denialWatch?.close();
  }

  /**
   * The denial reporting a sandbox gets (none when the watch isn't running); `ownerOf` names the
   * agent a `kill_and_revoke` revokes (a pooled sandbox has its owner only from checkout on).
   */
  private denialContext(ownerOf: (sandboxId: string) => string | undefined): Pick<ExecutionContext, 'denials'> {
    const watch = this.denialWatch;
    // Why gVisor without the watch: its kernel reports its own denials; namespace is unavailable then.
    if (this.denialOptions?.enabled === false || (watch === undefined && !this.drivers.has('gvisor'))) return {};
    const revoke = this.denialOptions?.revokeAgent;
    return {
      denials: {
        ...(watch === undefined ? {} : { watch }),
        // The configured response per severity (`violations.response`) unless the caller passed its own.
        policy: this.denialOptions?.policy ?? this.config.violations.response,
        watchWrites: this.config.violations.watchWrites !== false,
        ...(revoke === undefined ? {} : { revoke: (sandboxId: string, reason: string) => {
          const agentId = ownerOf(sandboxId);
          if (agentId !== undefined) revoke(agentId, reason);
        } }),
      },
    };
  }

  /** Runs the scheduled image re-verification now (what the timer runs); resolves with the images it took out of service. */
  reverifyImages(): Promise<{ name: string; digest: string }[]> {
    return this.reverifier.runOnce();
  }

  /**
   * The image, resolved as every start resolves it, unless a re-verification took it out of
   * service. Why refused: its files no longer match what it was verified as.
   */
  private async imageInService(name: string | undefined, pinned?: Image): Promise<Image> {
    const image = await imageFor(this.config, name, this.manifests, pinned);
    const refusal = this.reverifier.refusal(image.digest);
    if (refusal !== undefined) throw new ServiceError('control_failed', refusal);
    this.reverifier.noteInUse(image);
    return image;
  }

  /** A bad network request is the caller's error (400, every problem named); nothing is allocated. */
  private async checkNetwork(request: NetworkRequest) {
    if (request.mode !== 'none' && this.unavailable.has('network')) {
      throw new ServiceError('control_failed', `network: ${this.unavailable.get('network')}`);
    }
    try {
      return await this.networks.validate(request);
    } catch (err) {
      if (err instanceof NetworkPolicyError) throw new ServiceError('invalid_request', err.message);
      throw err;
    }
  }

  private activeCount(): number {
    return this.oneShots.size + this.registry.runningCount;
  }

  /** Refuses past the cap: callers get 429 with a retry hint, never an unbounded queue. */
  private reserveCapacity(): void {
    if (this.closing) throw new ServiceError('shutting_down', 'the service is shutting down');
    if (this.activeCount() >= this.config.service.maxSandboxes) {
      this.observer.capacityRefused?.();
      throw new ServiceError('capacity_exceeded', `${this.config.service.maxSandboxes} sandboxes are running; retry later`, { retryAfterSeconds: 1 });
    }
  }

  private checkPolicy(expected: string | undefined): void {
    if (expected !== undefined && expected !== this.policyHash) {
      throw new ServiceError('policy_mismatch', `the active policy is ${this.policyHash}, not ${expected}`);
    }
  }

  private ttl(requested: number | undefined, field = 'ttl_seconds'): number {
    const ttl = requested ?? this.config.service.defaultTtlSeconds;
    if (!Number.isInteger(ttl) || ttl <= 0) throw new ServiceError('invalid_request', `${field}: must be a positive whole number, got ${ttl}`);
    if (ttl > this.config.service.maxTtlSeconds) {
      throw new ServiceError('invalid_request', `${field}: ${ttl} exceeds the maximum of ${this.config.service.maxTtlSeconds}`);
    }
    return ttl;
  }

  private record(id: string): SandboxRecord {
    const record = this.registry.find(id);
    if (record === undefined) throw new ServiceError('sandbox_not_found', `no sandbox ${id}`);
    return record;
  }

  private running(id: string): SandboxRecord {
    const record = this.record(id);
    if (record.sandbox.endReason !== undefined) {
      throw new ServiceError('sandbox_not_running', `sandbox ${id} has ended (${record.sandbox.endReason})`);
    }
    // Every operation on a running sandbox is activity: its idle timeout starts again.
    record.idle?.touch();
    return record;
  }

  private async reapExpired(): Promise<void> {
    const now = Date.now();
    for (const record of this.registry.running()) {
      if (record.expiresAt <= now) await record.sandbox.end('ttl_expired').catch(() => undefined);
      else if (record.idle?.expired(now) === true) await record.sandbox.end('idle_timeout').catch(() => undefined);
    }
    this.registry.forgetOld(now);
  }
}
