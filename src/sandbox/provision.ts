/**
 * The one way a sandbox comes up and goes away, for one-shot runs and persistent sandboxes alike:
 * start-queue turn → network attach → driver create → start of the main process, then the
 * network-drift watch, and a teardown that destroys the sandbox before releasing its network.
 * Callers decide what the main process is and what a failure means to their caller; they never
 * attach a network, create or start a sandbox themselves.
 */
import type { IsolationDriver, Sandbox, SandboxProcess, SandboxSpec } from '../isolation/driver.ts';
import type { NetworkManager } from '../network/manager.ts';
import type { NetworkAttachment } from '../network/attachment.ts';
import type { NetworkRequest } from '../network/policy.ts';
import type { DriftFinding } from '../network/drift-watch.ts';
import type { StartQueue } from './start-queue.ts';
import { composeTrustBundle } from '../isolation/trust-store.ts';

/**
 * What to bring up: the sandbox as its driver builds it, except that the network is asked for (and
 * attached here, which also sets resolv.conf), and its main process.
 */
export interface ProvisionRequest extends Omit<SandboxSpec, 'network' | 'resolvConf' | 'trustBundle'> {
  network: NetworkRequest;
  /** The main process. */
  argv: string[];
  /** Whether the caller writes to the main process's stdin (otherwise /dev/null). */
  stdin: boolean;
}

/** Where and how to bring it up. */
export interface ProvisionContext {
  driver: IsolationDriver;
  networks: NetworkManager;
  /** Paces start-up so that a burst never holds the event loop; unpaced when absent. */
  starts?: StartQueue | undefined;
  /** Cancels start-up: nothing more is allocated once it fires, and what was is torn down. */
  signal?: AbortSignal | undefined;
}

/** A started sandbox, its network and main process; its owner calls `teardown()` when done with it. */
export interface ProvisionedSandbox {
  readonly sandbox: Sandbox;
  readonly network: NetworkAttachment;
  readonly process: SandboxProcess;
  /** `performance.now()` when start-up got its turn (allocation began). */
  readonly startedAt: number;
  /**
   * Ends the start-queue turn (twice ends it once). The owner calls it once the sandbox is ready
   * for use (one-shot: its command started; persistent: its agent answered); teardown calls it too.
   */
  endStartTurn(): void;
  /**
   * Starts the drift watch of the running sandbox's network (the snapshot is taken now). A state
   * that can't be snapshotted is reported as drift: the owner stops the sandbox.
   */
  watchNetwork(onDrift: (finding: DriftFinding) => void): void;
  /** Destroys the sandbox, then releases its network. Idempotent: every call gets the same promise. */
  teardown(): Promise<void>;
}

/** What `provision` returns when its signal fired before the main process started. */
export const CANCELLED = 'cancelled';

/**
 * Brings a sandbox up. Resolves `CANCELLED` (everything allocated torn down) when the signal fired
 * before the main process started. Rejects with the step's own error (a RefusedControlError as it
 * is) after tearing down what was allocated: callers map it (one-shot: a `start_failed` result).
 */
export async function provision(request: ProvisionRequest, ctx: ProvisionContext): Promise<ProvisionedSandbox | typeof CANCELLED> {
  const held = new Allocation();
  try {
    held.endTurn = await ctx.starts?.turn();
    const startedAt = performance.now();
    // Each step that allocates is followed by a look at the signal: a cancelled start allocates nothing more.
    if (isCancelled(ctx.signal)) return await held.cancelled();
    const network = (held.network = await ctx.networks.attach(request.id, request.network));
    if (isCancelled(ctx.signal)) return await held.cancelled();
    const sandbox = (held.sandbox = await ctx.driver.create({
      id: request.id,
      image: request.image,
      limits: request.limits,
      // Why: the network's variables (proxy, services, trust store) win: the request can't point them elsewhere.
      env: { ...request.env, ...network.env },
      mounts: request.mounts,
      workdir: request.workdir,
      network: network.sandboxNetwork,
      ...(network.resolvConf === undefined ? {} : { resolvConf: network.resolvConf }),
      ...(network.trustAnchors === undefined ? {} : { trustBundle: composeTrustBundle(request.image.rootfs, network.trustAnchors) }),
      ...(request.agentDir === undefined ? {} : { agentDir: request.agentDir }),
      ...(request.denialAuid === undefined ? {} : { denialAuid: request.denialAuid }),
      ...(request.onSeccompDenial === undefined ? {} : { onSeccompDenial: request.onSeccompDenial }),
      ...(request.onPathProbe === undefined ? {} : { onPathProbe: request.onPathProbe }),
      ...(request.secrets === undefined ? {} : { secrets: request.secrets }),
    }));
    if (isCancelled(ctx.signal)) return await held.cancelled();
    const proc = await sandbox.start({ argv: request.argv, stdin: request.stdin });
    return {
      sandbox, network, process: proc, startedAt,
      endStartTurn: () => held.endStartTurn(),
      watchNetwork: (onDrift) => watchNetwork(sandbox, network, onDrift),
      teardown: () => held.teardown(),
    };
  } catch (err) {
    await held.teardown();
    throw err;
  }
}

/** What a start-up holds so far (turn, network, sandbox), and its one teardown. */
class Allocation {
  endTurn: (() => void) | undefined;
  network: NetworkAttachment | undefined;
  sandbox: Sandbox | undefined;
  #teardown: Promise<void> | undefined;

  endStartTurn(): void {
    const end = this.endTurn;
    this.endTurn = undefined;
    end?.();
  }

  teardown(): Promise<void> {
    this.#teardown ??= (async () => {
      this.endStartTurn();
      // Why: the sandbox first; its network goes only once no process of it is left to use it
      // (a destroy that fails keeps the network, rules included, rather than free it under a live process).
      await this.sandbox?.destroy();
      await this.network?.release();
    })();
    return this.#teardown;
  }

  async cancelled(): Promise<typeof CANCELLED> {
    await this.teardown();
    return CANCELLED;
  }
}

function watchNetwork(sandbox: Sandbox, network: NetworkAttachment, onDrift: (finding: DriftFinding) => void): void {
  const pid = sandbox.networkPid();
  if (pid === undefined) return; // Already ended: nothing left to watch.
  network.watch(pid, onDrift).catch((err: Error) => onDrift({ verified: false, changes: [`network state could not be snapshotted: ${err.message}`] }));
}

/** A function, not an inline check: the signal changes between the awaits TypeScript narrows across. */
function isCancelled(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}
