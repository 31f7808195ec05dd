/**
 * One denial helper for all sandboxes of a controller: spawns agent/airlock-seccomp-audit.c,
 * routes each denial to the sandbox whose launcher set the record's audit login uid (else whose
 * cgroup held the denying process at receipt), and counts exactly.
 * A denial whose cgroup matches no sandbox, or arrives after the process was gone, is counted as
 * unattributed (never dropped). Kernel-side loss (receive buffer overrun) is counted as lost.
 */
import { randomInt } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ControlError } from '../../host/control-error.ts';
import { clearOwnLoginUid } from '../../host/loginuid.ts';
import { parseHelperLine, syscallNames, type Denial } from './line.ts';
import { DenialTally } from './tally.ts';

export { ensureSeccompAuditHelper, SECCOMP_AUDIT_SOURCE } from '../../isolation/seccomp/audit-helper.ts';

/** Called for every denial routed to a sandbox (e.g. to count it in the metrics at once). */
export type DenialListener = (sandboxId: string, denial: Denial) => void;

interface Registered {
  id: string;
  tally: DenialTally;
  onDenial?: (denial: Denial) => void;
}

/** The running helper and the sandboxes it attributes to. */
export class DenialWatch {
  readonly #child: ChildProcess;
  readonly #byCgroup = new Map<string, Registered>();
  readonly #byAuid = new Map<number, Registered>();
  readonly #listener: DenialListener | undefined;
  readonly #syncs = new Map<string, () => void>();
  #nextSync = 0;
  #unattributed = 0;
  #lost = 0;

  private constructor(child: ChildProcess, listener: DenialListener | undefined) {
    this.#child = child;
    this.#listener = listener;
  }

  /** Starts the helper and waits until it has joined the audit multicast group; fails closed naming the control. */
  static async start(binary: string, listener?: DenialListener): Promise<DenialWatch> {
    // Why: each launcher sets its sandbox's audit login uid, which an unprivileged process can do
    // only while it is unset; a controller started from a login session would have one.
    clearOwnLoginUid();
    const child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    child.stdin?.on('error', () => undefined);
    const watch = new DenialWatch(child, listener);
    const names = syscallNames();
    const lines = createInterface({ input: child.stdout! });
    await new Promise<void>((resolve, reject) => {
      child.once('error', (err) => reject(new ControlError('seccomp-audit', `cannot start ${binary}: ${err.message}`)));
      child.once('exit', (code) => reject(new ControlError('seccomp-audit', `the denial reader exited (${code}) before it was ready`)));
      lines.on('line', (line) => {
        const parsed = parseHelperLine(line, names);
        if (parsed === undefined) return;
        if (parsed.kind === 'ready') resolve();
        else if (parsed.kind === 'fail') reject(new ControlError('seccomp-audit', `the denial reader can't read the kernel audit: ${parsed.reason} (needs CAP_AUDIT_READ and CONFIG_AUDIT)`));
        else if (parsed.kind === 'lost') watch.#lost += parsed.count;
        else if (parsed.kind === 'sync') watch.#synced(parsed.id);
        else watch.#route(parsed.denial);
      });
    });
    return watch;
  }

  /**
   * Attributes to the sandbox the denials whose record carries `auid` (the loginuid its launcher
   * set: see loginuidCommand), and those of processes in `cgroup` (the path /proc/PID/cgroup shows).
   */
  register(sandboxId: string, where: { auid: number; cgroup?: string }, onDenial?: (denial: Denial) => void): DenialTally {
    const tally = new DenialTally();
    const entry: Registered = { id: sandboxId, tally, ...(onDenial === undefined ? {} : { onDenial }) };
    this.#byAuid.set(where.auid, entry);
    if (where.cgroup !== undefined) this.#byCgroup.set(trim(where.cgroup), entry);
    return tally;
  }

  /** Stops attributing to the sandbox. */
  unregister(where: { auid: number; cgroup?: string }): void {
    this.#byAuid.delete(where.auid);
    if (where.cgroup !== undefined) this.#byCgroup.delete(trim(where.cgroup));
  }

  /**
   * An audit login uid for a new sandbox: unused by any sandbox this watch knows. Random within
   * the range so that two controllers on one host rarely pick the same (each still sees only its own).
   */
  allocateAuid(): number {
    for (;;) {
      const auid = SANDBOX_AUID_BASE + randomInt(0, AUID_SPAN);
      if (!this.#byAuid.has(auid)) return auid;
    }
  }

  /**
   * Resolves once every denial the kernel audited before this call has been routed (the helper's
   * barrier; see agent/airlock-seccomp-audit.c). Rejects after `timeoutMs`.
   */
  sync(timeoutMs = 5_000): Promise<void> {
    const id = String(this.#nextSync++);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#syncs.delete(id);
        reject(new ControlError('seccomp-audit', `the denial reader did not answer a barrier within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#syncs.set(id, () => {
        clearTimeout(timer);
        resolve();
      });
      this.#child.stdin?.write(`sync ${id}\n`);
    });
  }

  /** The helper's pid (to measure what it costs). */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Denials that matched no registered sandbox. */
  get unattributed(): number {
    return this.#unattributed;
  }

  /** Receive-buffer overruns the helper reported (each at least one record). */
  get lost(): number {
    return this.#lost;
  }

  /** Stops the helper. */
  close(): void {
    this.#child.kill('SIGKILL');
  }

  #deliver(to: Registered, d: Denial): void {
    to.tally.add(d);
    this.#listener?.(to.id, d);
    to.onDenial?.(d);
  }

  #synced(id: string): void {
    const done = this.#syncs.get(id);
    this.#syncs.delete(id);
    done?.();
  }

  #route(d: Denial): void {
    const byAuid = this.#byAuid.get(d.auid);
    if (byAuid !== undefined) {
      this.#deliver(byAuid, d);
      return;
    }
    // Why walk up: a sandbox may make sub-cgroups; its processes there are still its own.
    for (let path = d.cgroup === undefined ? undefined : trim(d.cgroup); path !== undefined && path !== ''; path = parent(path)) {
      const hit = this.#byCgroup.get(path);
      if (hit !== undefined) {
        this.#deliver(hit, d);
        return;
      }
    }
    this.#unattributed += 1;
  }
}

function trim(path: string): string {
  return path.replace(/\/+$/, '');
}

function parent(path: string): string | undefined {
  const i = path.lastIndexOf('/');
  return i <= 0 ? undefined : path.slice(0, i);
}

/** The first audit login uid handed to sandboxes: far above any real account's uid. */
export const SANDBOX_AUID_BASE = 0x7a000000;
/** How many audit login uids sandboxes are given from. */
const AUID_SPAN = 0x01000000;
