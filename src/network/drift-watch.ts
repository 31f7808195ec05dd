/**
 * Watches the network state of running sandboxes against the snapshot taken when each started.
 * One timer per watch for every sandbox it holds: each check lists the inet nft ruleset (where
 * every slot table lives; iptables-nft and others keep theirs in other families) and the host
 * routes once, then reads each sandbox's facets from /proc and /sys (no process per sandbox).
 * Any difference fails closed: the sandbox's `onDrift` is called (once) and the caller kills it.
 */
import { runTool } from './host-tools.ts';
import { checkContext, describeDrift, type CheckContext, type NetworkSnapshot } from './snapshot.ts';

export interface WatchedNetwork {
  /** Reads the current state; undefined when it can't be read because the sandbox is ending. */
  read(ctx: CheckContext): Promise<NetworkSnapshot | undefined>;
  onDrift(changes: string[]): void;
}

interface Entry {
  target: WatchedNetwork;
  baseline: NetworkSnapshot;
}

export class DriftWatch {
  private readonly entries = new Set<Entry>();
  /** Looked up only when a watched sandbox has host-side rules: `none` needs no nftables. */
  private readonly nftPath: () => string;
  private readonly intervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  /** The pass running now, if any: passes never overlap, and close() waits for it. */
  private pass: Promise<void> | undefined;

  constructor(nftPath: () => string, intervalMs: number) {
    this.nftPath = nftPath;
    this.intervalMs = intervalMs;
  }

  /** Compares `target` with `baseline` on every check until the returned function is called. */
  watch(target: WatchedNetwork, baseline: NetworkSnapshot): () => void {
    const entry: Entry = { target, baseline };
    this.entries.add(entry);
    this.timer ??= setInterval(() => {
      this.pass ??= this.check().finally(() => (this.pass = undefined));
    }, this.intervalMs);
    return () => this.forget(entry);
  }

  /** Stops every watch (shutdown) and waits for a pass still listing the host's state. */
  async close(): Promise<void> {
    this.entries.clear();
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.pass;
  }

  private forget(entry: Entry): void {
    this.entries.delete(entry);
    if (this.entries.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private async check(): Promise<void> {
    const ctx = this.context();
    await Promise.all(
      [...this.entries].map(async (entry) => {
        let now: NetworkSnapshot | undefined;
        try {
          now = await entry.target.read(ctx);
        } catch (err) {
          // The state can't be read (nft failing, say): that is not a pass. Fail closed.
          now = { error: `network state unreadable: ${(err as Error).message}` };
        }
        if (now === undefined || !this.entries.has(entry)) return;
        const changes = describeDrift(entry.baseline, now);
        if (changes.length === 0) return;
        this.forget(entry);
        entry.target.onDrift(changes);
      }),
    );
  }

  /** A context for one pass: the whole inet ruleset, listed once for every sandbox checked. */
  private context(): CheckContext {
    return checkContext(() => runTool(this.nftPath(), ['-j', 'list', 'ruleset', 'inet']));
  }
}
