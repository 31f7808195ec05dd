/**
 * An in-memory SandboxServiceApi for HTTP-layer tests. It records calls, kills and stdin, and its
 * exec sessions play a script of output steps. It enforces what the real service does at the
 * edges the API maps (unknown ids, capacity, policy pin, runtime availability, missing files, and a
 * small version of the network policy check).
 */
import { randomUUID } from 'node:crypto';
import type { GrantedMount, RuntimeName } from '../../src/isolation/driver.ts';
import { ServiceError } from '../../src/sandbox/errors.ts';
import type { ExecutionResult, SecurityViolation } from '../../src/sandbox/result.ts';
import type { NetworkRequest } from '../../src/network/policy.ts';
import type {
  CancelledExecution, CreateSandboxOptions, ExecEndReason, ExecOptions, ExecResult, ExecSession, FileEntry, HealthReport,
  OneShotExecution, OneShotRequest, RunningExec, SandboxInfo, SandboxNetworkInfo, SandboxOwnership, SandboxServiceApi, ServiceStatus,
} from '../../src/sandbox/service-types.ts';
import { OneShotRegistry } from '../../src/sandbox/one-shots.ts';
import type { ImageRunConfig } from '../../src/images/oci/types.ts';
import type { Image } from '../../src/images/image.ts';

export const FAKE_POLICY_HASH = `sha256:${'a'.repeat(64)}`;

/** Host paths under this prefix are refused by the fake's grant check, as the real drivers refuse a symlink. */
export const FAKE_REFUSED_GRANT_PREFIX = '/srv/refused';

/** One step of an exec script. */
export interface ScriptStep {
  stdout?: string | Buffer;
  stderr?: string | Buffer;
  delayMs?: number;
  /** Wait here until the session is killed. */
  hang?: boolean;
}

/** Plays a script; `kill()` ends it as `killed`. */
export class FakeExecSession implements ExecSession {
  readonly execId = `e-${randomUUID()}`;
  readonly stdin: Buffer[] = [];
  stdinClosed = false;
  killed = false;
  readonly result: Promise<ExecResult>;
  readonly #out: Array<(c: Buffer) => void> = [];
  readonly #err: Array<(c: Buffer) => void> = [];
  #onKill!: () => void;
  readonly #killedP = new Promise<void>((resolve) => (this.#onKill = resolve));

  constructor(script: ScriptStep[], exit: { code: number; reason?: ExecEndReason }, onKilled: (id: string) => void) {
    const started = Date.now();
    this.result = new Promise<ExecResult>((resolve) => {
      const finish = (r: Omit<ExecResult, 'duration_ms'>) => resolve({ ...r, duration_ms: Date.now() - started });
      void this.#killedP.then(() => {
        onKilled(this.execId);
        finish({ exit_code: null, signal: 'SIGKILL', termination_reason: 'killed' });
      });
      setImmediate(async () => {
        for (const step of script) {
          if (this.killed) return;
          if (step.delayMs !== undefined) await new Promise((r) => setTimeout(r, step.delayMs));
          if (step.hang === true) return;
          if (step.stdout !== undefined) for (const l of this.#out) l(Buffer.from(step.stdout));
          if (step.stderr !== undefined) for (const l of this.#err) l(Buffer.from(step.stderr));
        }
        if (!this.killed) finish({ exit_code: exit.code, signal: null, termination_reason: exit.reason ?? 'completed' });
      });
    });
  }

  onStdout(listener: (chunk: Buffer) => void): void {
    this.#out.push(listener);
  }
  onStderr(listener: (chunk: Buffer) => void): void {
    this.#err.push(listener);
  }
  writeStdin(data: Buffer | string): void {
    this.stdin.push(Buffer.from(data));
  }
  closeStdin(): void {
    this.stdinClosed = true;
  }
  kill(): void {
    if (this.killed) return;
    this.killed = true;
    this.#onKill();
  }
}

/** The fake service. Public fields are knobs and records for tests. */
export class FakeService implements SandboxServiceApi {
  readonly policyHash = FAKE_POLICY_HASH;
  /** Concurrent sandboxes (persistent + running one-shots) before capacity_exceeded. */
  capacity = Number.POSITIVE_INFINITY;
  runtimesAvailable: RuntimeName[] = ['namespace'];
  execScript: ScriptStep[] = [{ stdout: 'hello\n' }, { stderr: 'warn\n' }];
  execExit: { code: number; reason?: ExecEndReason } = { code: 0 };
  /** Delay of `execute`, ms (to hold a slot). */
  executeDelayMs = 0;
  /** Delay of `exec` before its session exists, ms (a command still starting). */
  execStartDelayMs = 0;
  /** One-shots run until cancelled (then end `killed`), as a `sleep` would. */
  executeHangs = false;
  /** Time admission of a one-shot takes, ms (image and network checks), before it has an id. */
  admitDelayMs = 0;
  /** A refusal the one-shot meets after admission (as a driver refusing the workdir would). */
  executeRefusal: ServiceError | undefined;
  /** Execution ids of one-shots that were cancelled. */
  readonly cancelledExecutions: string[] = [];
  readonly #oneShots = new OneShotRegistry();
  readonly executed: OneShotRequest[] = [];
  readonly created: CreateSandboxOptions[] = [];
  readonly execs: Array<{ id: string; options: ExecOptions; session: FakeExecSession }> = [];
  readonly killedExecs: string[] = [];
  readonly files = new Map<string, Buffer>();
  readonly fileModes = new Map<string, number | undefined>();
  shutdownCalls = 0;
  readonly #sandboxes = new Map<string, SandboxInfo>();
  readonly #mounts = new Map<string, readonly GrantedMount[]>();
  #running = 0;

  async execute(request: OneShotRequest): Promise<ExecutionResult> {
    return (await this.startExecution(request)).result;
  }

  async startExecution(request: OneShotRequest): Promise<OneShotExecution> {
    if (request.expectedPolicyHash !== undefined && request.expectedPolicyHash !== this.policyHash) throw new ServiceError('policy_mismatch', 'policy hash mismatch');
    this.#checkRuntime(request.runtime);
    this.#checkMounts(request.mounts);
    if (request.network !== undefined) this.#checkNetwork(request.network);
    if (this.admitDelayMs > 0) await new Promise((r) => setTimeout(r, this.admitDelayMs));
    this.#reserve();
    this.executed.push(request);
    const executionId = randomUUID();
    const controller = new AbortController();
    controller.signal.addEventListener('abort', () => this.cancelledExecutions.push(executionId), { once: true });
    const result = this.#runOneShot(request, executionId, controller.signal).finally(() => (this.#running -= 1));
    this.#oneShots.add({ executionId, agentId: request.agentId, runtime: request.runtime, started: Date.now(), controller, violations: [] }, result);
    result.catch(() => undefined);
    return { executionId, cancel: () => controller.abort(), result };
  }

  cancelExecution(executionId: string): Promise<CancelledExecution> {
    return this.#oneShots.cancel(executionId);
  }

  async #runOneShot(request: OneShotRequest, executionId: string, signal: AbortSignal): Promise<ExecutionResult> {
    const wait = (ms: number) => new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
    if (this.executeDelayMs > 0) await wait(this.executeDelayMs);
    if (this.executeHangs && !signal.aborted) await wait(2 ** 31 - 1);
    if (this.executeRefusal !== undefined) throw this.executeRefusal;
    const killed = signal.aborted;
    return {
      execution_id: executionId, success: !killed, output: killed ? '' : 'ok', error: null, exit_code: killed ? null : 0, security_violations: [],
      execution_time_seconds: 0.01, cold_start_time_ms: 5, resource_usage: { cpu_usage_cores: 0.1, memory_usage_mb: 3, network_rx_bytes: 0, network_tx_bytes: 0 },
      termination_reason: killed ? 'killed' : 'completed', runtime_used: request.runtime, accelerator: null, policy_hash: this.policyHash,
      image_digest: `sha256:${'0'.repeat(64)}`, image_signer: null,
    };
  }

  /** Internal services the fake knows (as if configured by the operator). */
  configuredServices = ['billing', 'search'];
  /** Network state of each persistent sandbox, by id. */
  readonly networks = new Map<string, { services: string[]; changes: Array<{ at: string; allowed_hosts: string[] }> }>();

  network(id: string): SandboxNetworkInfo {
    const info = this.get(id);
    const net = this.networks.get(id);
    return {
      network_policy: info.network_policy, allowed_hosts: [...info.allowed_hosts], services: [...(net?.services ?? [])],
      network_rx_bytes: 0, network_tx_bytes: 0, decisions: [], allowlist_changes: [...(net?.changes ?? [])],
    };
  }

  async setAllowlist(id: string, allowedHosts: string[]): Promise<SandboxNetworkInfo> {
    const info = this.#runningInfo(id);
    if (info.network_policy !== 'restricted') {
      throw new ServiceError('invalid_request', `allowed_hosts: sandbox ${id} has network_policy ${info.network_policy}; only restricted sandboxes have an allowlist`);
    }
    const net = this.networks.get(id);
    this.#checkNetwork({ mode: 'restricted', allowedHosts, services: net?.services ?? [] });
    info.allowed_hosts = [...allowedHosts];
    net?.changes.push({ at: new Date().toISOString(), allowed_hosts: [...allowedHosts] });
    return this.network(id);
  }

  async create(options: CreateSandboxOptions): Promise<SandboxInfo> {
    this.#checkRuntime(options.runtime);
    this.#checkMounts(options.mounts);
    if (options.network !== undefined) this.#checkNetwork(options.network);
    this.#reserve();
    this.created.push(options);
    const now = Date.now();
    const info: SandboxInfo = {
      sandbox_id: `s-${randomUUID()}`, owner: options.agentId ?? '', runtime: options.runtime, accelerator: null, image: options.image ?? 'default', image_digest: `sha256:${'b'.repeat(64)}`, image_signer: null,
      state: 'running', created_at: new Date(now).toISOString(), expires_at: new Date(now + (options.ttlSeconds ?? 300) * 1000).toISOString(),
      idle_timeout_seconds: options.idleTimeoutSeconds ?? null,
      metadata: options.metadata,
      limits: { memory_limit_mb: options.limits.memoryMb ?? 512, cpu_limit: options.limits.cpuCores ?? 0.5, pids_limit: options.limits.pids ?? 256, scratch_mb: options.limits.scratchMb ?? 64, timeout_seconds: options.limits.timeoutSeconds ?? 300 },
      pooled: false, network_policy: options.network?.mode ?? 'none', allowed_hosts: [...(options.network?.allowedHosts ?? [])], security_violations: [],
      end_reason: null, ended_at: null,
    };
    this.#sandboxes.set(info.sandbox_id, info);
    this.#mounts.set(info.sandbox_id, options.mounts);
    this.networks.set(info.sandbox_id, { services: [...(options.network?.services ?? [])], changes: [] });
    return info;
  }

  list(): SandboxInfo[] {
    return [...this.#sandboxes.values()];
  }

  get(id: string): SandboxInfo {
    const info = this.#sandboxes.get(id);
    if (info === undefined) throw new ServiceError('sandbox_not_found', `no sandbox ${id}`);
    return info;
  }

  /** Violations recorded from outside, by sandbox id. */
  readonly recordedViolations: Array<{ id: string; violation: SecurityViolation }> = [];

  recordViolation(id: string, violation: SecurityViolation): void {
    const info = this.#sandboxes.get(id);
    if (info === undefined || info.state !== 'running') return;
    info.security_violations.push(violation);
    this.recordedViolations.push({ id, violation });
  }

  ownership(id: string): SandboxOwnership {
    const info = this.get(id);
    const l = info.limits;
    const limits = { memoryMb: l.memory_limit_mb, cpuCores: l.cpu_limit, pids: l.pids_limit, scratchMb: l.scratch_mb, timeoutSeconds: l.timeout_seconds, outputBytes: 1_048_576, openFiles: 1024 };
    const mounts = this.#mounts.get(id) ?? [];
    return { owner: info.owner, spec: { runtime: info.runtime, image: info.image, network: { mode: info.network_policy, allowedHosts: info.allowed_hosts }, mounts, limits } };
  }

  async kill(id: string): Promise<SandboxInfo> {
    const info = this.get(id);
    if (info.state === 'running') {
      this.#running -= 1;
      Object.assign(info, { state: 'ended', end_reason: 'killed', ended_at: new Date().toISOString() });
    }
    return info;
  }

  async endAgent(agentId: string): Promise<{ sandboxes: string[]; executions: string[] }> {
    const ended: string[] = [];
    for (const info of this.#sandboxes.values()) {
      if (info.owner !== agentId || info.state !== 'running') continue;
      this.#running -= 1;
      Object.assign(info, { state: 'ended', end_reason: 'revoked', ended_at: new Date().toISOString() });
      ended.push(info.sandbox_id);
    }
    return { sandboxes: ended, executions: [] };
  }

  setTimeout(id: string, ttlSeconds: number): SandboxInfo {
    const info = this.#runningInfo(id);
    info.expires_at = new Date(Date.now() + ttlSeconds * 1000).toISOString();
    return info;
  }

  async exec(id: string, options: ExecOptions): Promise<ExecSession> {
    this.#runningInfo(id);
    if (this.execStartDelayMs > 0) await new Promise((r) => setTimeout(r, this.execStartDelayMs));
    const session = new FakeExecSession(this.execScript, this.execExit, (execId) => this.killedExecs.push(execId));
    this.execs.push({ id, options, session });
    return session;
  }

  /** Every exec of `id` this fake started (it does not drop ended ones). */
  listExecs(id: string): RunningExec[] {
    this.#runningInfo(id);
    return this.execs
      .filter((e) => e.id === id)
      .map((e) => ({ exec_id: e.session.execId, command: e.options.argv ?? [e.options.language ?? 'python'], cwd: e.options.cwd ?? '/tmp', started_at: new Date(0).toISOString() }));
  }

  killExec(id: string, execId: string): void {
    this.#runningInfo(id);
    const exec = this.execs.find((e) => e.id === id && e.session.execId === execId);
    if (exec === undefined) throw new ServiceError('execution_not_found', `no command with exec id ${execId} is running in sandbox ${id}`);
    exec.session.kill();
  }

  async readFile(id: string, path: string): Promise<Buffer> {
    this.#runningInfo(id);
    const data = this.files.get(`${id}:${path}`);
    if (data === undefined) throw new ServiceError('file_not_found', `${path}: no such file`);
    return data;
  }

  async writeFile(id: string, path: string, data: Buffer, mode?: number): Promise<void> {
    this.#runningInfo(id);
    this.files.set(`${id}:${path}`, data);
    this.fileModes.set(`${id}:${path}`, mode);
  }

  async listFiles(id: string, path: string): Promise<FileEntry[]> {
    this.#runningInfo(id);
    return [...this.files.entries()]
      .filter(([key]) => key.startsWith(`${id}:${path === '/' ? '' : path}/`))
      .map(([key, data]) => {
        const p = key.slice(id.length + 1);
        return { name: p.split('/').pop() ?? '', path: p, type: 'file' as const, size: data.length, mode: 0o644, modified_at: new Date(0).toISOString() };
      });
  }

  /** Images here are names only: nothing to pin, so every step is given the name. */
  async pinImage(): Promise<Image | undefined> {
    return undefined;
  }

  /** Images here have no run configuration (as built images have none); a test may replace this. */
  async imageRunConfig(): Promise<ImageRunConfig | null> {
    return null;
  }

  status(): ServiceStatus {
    const oneShots = this.#oneShots.running().map((o) => ({
      execution_id: o.executionId, agent_id: o.agentId, runtime: o.runtime, uptime_seconds: 1, pod_name: `x-${o.executionId}`, kind: 'execution' as const,
    }));
    const persistent = this.list()
      .filter((s) => s.state === 'running')
      .map((s) => ({ execution_id: s.sandbox_id, agent_id: 'agent', runtime: s.runtime, uptime_seconds: 1, pod_name: s.sandbox_id, kind: 'sandbox' as const }));
    const active = [...oneShots, ...persistent];
    return { active_sandboxes: active, total_count: active.length };
  }

  async health(): Promise<HealthReport> {
    return { status: 'healthy', service: 'airlock', version: '0.1.0', policy_hash: this.policyHash, runtimes_available: this.runtimesAvailable, active_sandboxes: this.#running };
  }

  async shutdown(): Promise<void> {
    this.shutdownCalls += 1;
    await this.#oneShots.cancelAll();
    for (const e of this.execs) e.session.kill();
    for (const s of this.#sandboxes.values()) if (s.state === 'running') await this.kill(s.sandbox_id);
  }

  /** What the drivers' grant check does when it refuses: `filesystem_access_refused`, naming the control. */
  #checkMounts(mounts: OneShotRequest['mounts']): void {
    const refused = mounts.find((m) => m.hostPath.startsWith(FAKE_REFUSED_GRANT_PREFIX));
    if (refused !== undefined) throw new ServiceError('filesystem_access_refused', `filesystem_access: cannot grant ${refused.hostPath}: it is a symbolic link`);
  }

  #checkRuntime(runtime: RuntimeName): void {
    if (!this.runtimesAvailable.includes(runtime)) throw new ServiceError('runtime_unavailable', `runtime "${runtime}" is not available on this host`);
  }

  /**
   * What the real service's network check refuses, in small: hosts or services outside restricted,
   * unconfigured services, and patterns as broad as "*" or "*.tld"; every problem is named.
   */
  #checkNetwork(request: NetworkRequest): void {
    const problems: string[] = [];
    if (request.mode !== 'restricted') {
      if (request.allowedHosts.length > 0) problems.push(`allowed_hosts: only applies to network_policy restricted, not ${request.mode}`);
      if (request.services.length > 0) problems.push(`services: only reachable with network_policy restricted, not ${request.mode}`);
    }
    for (const name of request.services) if (!this.configuredServices.includes(name)) problems.push(`${name}: no such internal service is configured`);
    for (const entry of request.allowedHosts) {
      const host = entry.replace(/:\d+$/, '');
      if (host === '*' || /^\*\.[^.]+$/.test(host)) problems.push(`${entry}: too broad (matches a whole public suffix)`);
    }
    if (problems.length > 0) throw new ServiceError('invalid_request', `network policy refused: ${problems.join('; ')}`);
  }

  #reserve(): void {
    if (this.#running >= this.capacity) throw new ServiceError('capacity_exceeded', 'concurrent sandbox cap reached', { retryAfterSeconds: 2 });
    this.#running += 1;
  }

  #runningInfo(id: string): SandboxInfo {
    const info = this.get(id);
    if (info.state !== 'running') throw new ServiceError('sandbox_not_running', `sandbox ${id} has ended`);
    return info;
  }
}
