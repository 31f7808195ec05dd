/**
 * A persistent sandbox: the driver's sandbox with the in-sandbox agent as its main process.
 * Every command and file operation goes through the agent, so it runs inside the sandbox with
 * every control already applied and can only ever see the sandbox's own filesystem.
 */
import { randomUUID } from 'node:crypto';
import { AGENT_MOUNT, type Accelerator, type ForensicAccess, type IsolationDriver, type Limits, type Sandbox, type SandboxSpec, type SecretFile } from '../isolation/driver.ts';
import { Redactor } from '../secrets/redactor.ts';
import { redactDecision } from './secrets.ts';
import type { EgressDecision } from '../network/proxy/index.ts';
import { AgentClient, AgentClosedError, AgentFileError } from '../agent/client.ts';
import type { Image } from '../images/image.ts';
import { ServiceError } from './errors.ts';
import { BASE_ENV, commandFor } from './prepare.ts';
import { limitReason } from './termination.ts';
import type { EndReason, ExecOptions, ExecResult, ExecSession, FileEntry, RunningExec } from './service-types.ts';
import { startExec } from './exec-session.ts';
import type { NetworkManager } from '../network/manager.ts';
import type { NetworkAttachment } from '../network/attachment.ts';
import type { NetworkRequest } from '../network/policy.ts';
import { CANCELLED, provision, type ProvisionedSandbox } from './provision.ts';
import type { StartQueue } from './start-queue.ts';
import { networkDriftViolation } from './violations.ts';
import type { SecurityViolation } from './result.ts';
import { openDenials, type DenialReporting, type RunDenials } from './denials/run-denials.ts';
import type { Supervision, Supervisor } from './supervision/supervisor.ts';

/** Longest wait for the agent's READY: a sandbox that can't start its agent is not handed out. */
const READY_TIMEOUT_MS = 20_000;

export interface PersistentSpec {
  driver: IsolationDriver;
  image: Image;
  limits: Limits;
  mounts: SandboxSpec['mounts'];
  agentDir: string;
  agentBinary: string;
  network: NetworkRequest;
  networks: NetworkManager;
  /** Paces start-up with every other sandbox's; the turn lasts until the agent answers. */
  starts?: StartQueue | undefined;
  /** Watches the sandbox's limits (kernel events; the shared sampler where there are none). */
  supervisor: Supervisor;
  /** Called when the sandbox records a security violation (metrics, logs). */
  onViolation?: (violation: SecurityViolation) => void;
  /** Secrets placed under /run/secrets; their values are redacted from everything read back. */
  secrets?: readonly SecretFile[];
  /** Seccomp denial reporting (both runtimes); absent: denials are refused, not reported. */
  denials?: DenialReporting;
}

/** A running persistent sandbox; `end()` is idempotent and records the first reason given. */
export class PersistentSandbox {
  readonly id: string;
  readonly limits: Limits;
  readonly image: Image;
  readonly coldStartMs: number;
  readonly network: NetworkAttachment;
  readonly violations: SecurityViolation[] = [];
  /** Names of the secrets it was given. */
  readonly secretNames: readonly string[];
  /** One redactor for everything that leaves: exec output, files read back, listed names. */
  private readonly redactor: Redactor;
  private readonly sandbox: Sandbox;
  private readonly provisioned: ProvisionedSandbox;
  private readonly agent: AgentClient;
  /** Commands running now, with what `runningExecs` shows of each. */
  private readonly execs = new Map<ExecSession, RunningExec>();
  private readonly supervision: Supervision;
  private ending: Promise<void> | undefined;
  private endReasonValue: EndReason | undefined;
  private readonly endListeners: ((reason: EndReason) => void)[] = [];
  private readonly endingListeners: ((reason: EndReason) => void)[] = [];
  private denials: RunDenials | undefined;
  private readonly onViolation: ((violation: SecurityViolation) => void) | undefined;

  private constructor(id: string, spec: PersistentSpec, provisioned: ProvisionedSandbox, agent: AgentClient, coldStartMs: number) {
    this.id = id;
    this.network = provisioned.network;
    this.limits = spec.limits;
    this.image = spec.image;
    this.sandbox = provisioned.sandbox;
    this.provisioned = provisioned;
    this.agent = agent;
    this.coldStartMs = coldStartMs;
    this.secretNames = (spec.secrets ?? []).map((s) => s.name);
    this.onViolation = spec.onViolation;
    this.redactor = new Redactor(spec.secrets ?? []);
    // A limit hit ends the whole sandbox: fail closed, and say which limit.
    this.supervision = spec.supervisor.supervise(this.sandbox, {
      onSample: (sample) => {
        const hit = limitReason(sample);
        if (hit !== undefined) void this.end(hit);
      },
    });
  }

  /** Creates the sandbox and waits for its agent to report ready. */
  static async start(spec: PersistentSpec): Promise<PersistentSandbox> {
    const id = `s-${randomUUID()}`;
    // A response that stops the sandbox may come before it exists: it is then applied at once after.
    let created: PersistentSandbox | undefined;
    let respond: EndReason | undefined;
    const reporting = spec.denials;
    const opened = reporting === undefined ? undefined : openDenials(reporting, spec.driver.runtime, id, {
      ...(reporting.policy === undefined ? {} : { policy: reporting.policy }),
      onResponse: (response, what) => {
        if (response === 'kill_and_revoke') reporting.revoke?.(id, `${what} in sandbox ${id}`);
        respond = response === 'kill_and_revoke' ? 'revoked' : 'killed';
        if (created !== undefined) void created.end(respond);
      },
    });
    const denials = opened?.run;
    const provisioned = await provision(
      {
        // The network's variables (proxy, services) reach the agent and every command it starts.
        id, image: spec.image, limits: spec.limits, env: { ...BASE_ENV }, mounts: spec.mounts, workdir: '/tmp', network: spec.network,
        agentDir: spec.agentDir, argv: [`${AGENT_MOUNT}/${spec.agentBinary}`], stdin: true,
        ...(spec.secrets === undefined || spec.secrets.length === 0 ? {} : { secrets: spec.secrets }),
        ...opened?.spec,
      },
      { driver: spec.driver, networks: spec.networks, starts: spec.starts },
    ).catch((err: unknown) => {
      denials?.release();
      throw err;
    });
    // No signal is given, so start-up is never cancelled.
    if (provisioned === CANCELLED) throw new Error('persistent sandbox start-up cancelled');
    try {
      const proc = provisioned.process;
      if (proc.stdin === null) throw new Error('agent has no stdin');
      const agent = new AgentClient({ stdin: proc.stdin, stdout: proc.stdout });
      proc.stderr.resume();
      // The sandbox ending before its agent answers is a start failure, reported with its reason.
      const ended = proc.exit.then((e) => {
        throw new ServiceError('control_failed', `sandbox ended before its agent started: ${e.setupError ?? `exit ${e.code ?? e.signal}`}`);
      });
      ended.catch(() => undefined);
      await withTimeout(Promise.race([agent.ready(), ended]), READY_TIMEOUT_MS, () => new ServiceError('control_failed', `sandbox agent not ready after ${READY_TIMEOUT_MS} ms`));
      const persistent = new PersistentSandbox(id, spec, provisioned, agent, performance.now() - provisioned.startedAt);
      persistent.denials = denials;
      created = persistent;
      if (respond !== undefined) void persistent.end(respond);
      provisioned.watchNetwork((finding) => {
        const violation = networkDriftViolation(finding, provisioned.network.mode);
        persistent.violations.push(violation);
        spec.onViolation?.(violation);
        void persistent.end('network_drift');
      });
      // The agent is the sandbox: if it exits, the sandbox is over (a limit hit takes the blame first).
      void proc.exit.then(async () => persistent.end((await persistent.limitHit()) ?? 'agent_exited'));
      provisioned.endStartTurn();
      return persistent;
    } catch (err) {
      denials?.release();
      await provisioned.teardown();
      throw err;
    }
  }

  /** Every violation so far: the recorded ones and the seccomp denials counted up to now. */
  securityViolations(): SecurityViolation[] {
    return [...this.violations, ...(this.denials?.current() ?? [])];
  }

  /** What runs its guest, when it is a VM; null otherwise. */
  get accelerator(): Accelerator | null {
    return this.sandbox.accelerator ?? null;
  }

  /** What a forensic capture reads from the host side (see ForensicAccess). */
  forensicAccess(): ForensicAccess | undefined {
    return this.sandbox.forensicAccess?.();
  }

  get endReason(): EndReason | undefined {
    return this.endReasonValue;
  }

  /** Called once, with the reason, when the sandbox has ended and been torn down. */
  onEnd(listener: (reason: EndReason) => void): void {
    this.endListeners.push(listener);
  }

  /**
   * Called once, with the reason, as soon as the sandbox stops running (`endReason` is set), before
   * its teardown; never when it has already stopped.
   */
  onEnding(listener: (reason: EndReason) => void): void {
    if (this.endReasonValue === undefined) this.endingListeners.push(listener);
  }

  /** Starts a command (env: the base environment plus exactly `options.env`); output streams through the session. */
  async exec(options: ExecOptions): Promise<ExecSession> {
    const { argv, stdin } = commandFor({ command: options.argv, code: options.code, language: options.language });
    const session = this.whileRunning(() => startExec(this.agent, {
      argv,
      env: { ...BASE_ENV, ...options.env, ...this.network.env },
      cwd: options.cwd ?? '/tmp',
      stdin: options.stdin || stdin !== undefined,
      timeoutMs: options.timeoutMs,
      outputBytes: this.limits.outputBytes,
      ended: () => this.endReasonValue !== undefined,
      redactor: this.redactor,
    }));
    if (stdin !== undefined) {
      session.writeStdin(stdin);
      if (!options.stdin) session.closeStdin();
    }
    // Listed as the caller gave it: the argv, or `code` as its language (the code is not repeated).
    const command = options.argv ?? [options.language ?? 'python'];
    this.execs.set(session, { exec_id: session.execId, command: command.map((arg) => this.redactor.text(arg)), cwd: options.cwd ?? '/tmp', started_at: new Date().toISOString() });
    void session.result.finally(() => this.execs.delete(session));
    return session;
  }

  /** The commands running now, oldest first. */
  runningExecs(): RunningExec[] {
    return [...this.execs.values()];
  }

  /** Kills the running command `execId` (it ends `killed`); false when no command of that id runs. */
  killExec(execId: string): boolean {
    for (const [session, listed] of this.execs) {
      if (listed.exec_id !== execId) continue;
      session.kill();
      return true;
    }
    return false;
  }

  /** An egress decision of this sandbox with its secrets' values redacted. */
  redactDecision(decision: EgressDecision): EgressDecision {
    return redactDecision(decision, this.redactor);
  }

  async readFile(path: string, maxBytes: number): Promise<Buffer> {
    // Why redacted: a file is output too (a config a tool wrote, a copy of a secret file).
    return this.redactor.buffer(await this.fileOp(path, () => this.agent.readFile(path, maxBytes)));
  }

  async writeFile(path: string, data: Buffer, mode?: number): Promise<void> {
    await this.fileOp(path, () => this.agent.writeFile(path, data, mode));
  }

  async listFiles(path: string): Promise<FileEntry[]> {
    const entries = await this.fileOp(path, () => this.agent.list(path));
    const base = path.endsWith('/') ? path : `${path}/`;
    return entries.map((e) => ({
      name: this.redactor.text(e.name),
      path: this.redactor.text(`${base}${e.name}`),
      type: e.type === 'file' || e.type === 'dir' || e.type === 'symlink' ? e.type : 'other',
      size: e.size,
      mode: e.mode,
      modified_at: e.mtime.toISOString(),
    }));
  }

  /** Ends the sandbox: kills every command, tears everything down. */
  end(reason: EndReason): Promise<void> {
    if (this.ending !== undefined) return this.ending;
    this.endReasonValue = reason;
    for (const listener of this.endingListeners.splice(0)) listener(reason);
    this.supervision.stop();
    this.ending = (async () => {
      for (const session of this.execs.keys()) session.kill();
      this.agent.close();
      // Each exec's result settles (sandbox_ended) once the agent is gone; the sandbox goes before its network.
      await this.provisioned.teardown();
      // The sandbox's denials, every one read (barrier), become recorded violations (metrics, audit).
      const denied = (await this.denials?.collect()) ?? [];
      this.denials = undefined;
      for (const v of denied) {
        this.violations.push(v);
        this.onViolation?.(v);
      }
      for (const listener of this.endListeners) listener(reason);
    })();
    return this.ending;
  }

  private requireRunning(): void {
    if (this.endReasonValue !== undefined) {
      throw new ServiceError('sandbox_not_running', `sandbox ${this.id} has ended (${this.endReasonValue})`);
    }
  }

  /**
   * Runs an agent call; the agent's channel closing under it (a DELETE, the TTL, a limit or the
   * agent exiting, all of which end the sandbox) is `sandbox_not_running`, like a call made after.
   */
  private whileRunning<T>(op: () => T): T {
    this.requireRunning();
    try {
      return op();
    } catch (err) {
      throw this.endedError(err);
    }
  }

  /** A file operation through the agent: refused when the sandbox ends during it, agent errors mapped to request errors. */
  private async fileOp<T>(path: string, op: () => Promise<T>): Promise<T> {
    this.requireRunning();
    try {
      return await fileOp(path, op);
    } catch (err) {
      throw this.redactedError(this.endedError(err));
    }
  }

  /**
   * A file error's message can quote the sandbox (a path it chose, the agent's own words): its
   * secrets' values are redacted from it, and the original (the cause) is not passed on.
   */
  private redactedError(err: unknown): unknown {
    if (!(err instanceof ServiceError) || !this.redactor.active) return err;
    const message = this.redactor.text(err.message);
    return message === err.message ? err : new ServiceError(err.code, message);
  }

  /** `sandbox_not_running` for a call cut off by the agent's channel closing; any other error as it is. */
  private endedError(err: unknown): unknown {
    if (!(err instanceof AgentClosedError)) return err;
    // Why: the sandbox ending mid-call is a state the caller can act on (409), not an internal fault (500).
    const reason = this.endReasonValue === undefined ? 'its agent is gone' : `it ended (${this.endReasonValue})`;
    return new ServiceError('sandbox_not_running', `sandbox ${this.id} is not running: ${reason}`, { cause: err });
  }

  /** The limit the sandbox has hit, if any. */
  private async limitHit(): Promise<EndReason | undefined> {
    try {
      return limitReason(await this.sandbox.stats());
    } catch {
      // Sampling failed because the sandbox is going away.
    }
    return undefined;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(error()), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Maps the agent's file errors to request errors (never a 5xx for a bad path). */
async function fileOp<T>(path: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (err instanceof AgentFileError) {
      if (err.code === 'ENOENT') throw new ServiceError('file_not_found', `${path}: no such file or directory`);
      // The agent's own message may name the path already: never twice.
      const message = err.message.startsWith(`${path}: `) ? err.message : `${path}: ${err.message}`;
      if (err.code === 'EFBIG') throw new ServiceError('payload_too_large', message);
      throw new ServiceError('invalid_path', message);
    }
    throw err;
  }
}

export type { ExecResult };
