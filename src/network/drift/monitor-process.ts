/**
 * A long-lived event monitor (`nft -j monitor`, `ip -o monitor ...`) as a line feed. It counts as
 * started only once the kernel shows its netlink socket subscribed to a multicast group (the
 * `Groups` column of /proc/net/netlink), so nothing that happens after `start()` resolves is missed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { TOOL_ENV, formatSeconds } from '../host-tools.ts';

/** A source of host event lines the drift watch subscribes to (a real monitor, or a fake in tests). */
export interface EventFeed {
  /** What it is, for messages (`nft monitor`). */
  readonly name: string;
  /**
   * Starts it and resolves once it is subscribed. `onLine` gets every event line; `onTrouble` is
   * called when it may have lost events (a message on stderr) or stopped by itself (`ended`).
   */
  start(onLine: (line: string) => void, onTrouble: (message: string, ended: boolean) => void): Promise<void>;
  /** Stops it and resolves once the process is gone. */
  stop(): Promise<void>;
}

const SUBSCRIBE_TIMEOUT_MS = 10_000;
const SUBSCRIBE_POLL_MS = 5;

/** A monitor program run as a child process of the controller. */
export class MonitorProcess implements EventFeed {
  readonly name: string;
  private readonly path: () => string;
  private readonly args: string[];
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  /** `path` is looked up when the monitor starts (a host without nftables needs none for `none` sandboxes). */
  constructor(name: string, path: () => string, args: string[]) {
    this.name = name;
    this.path = path;
    this.args = args;
  }

  async start(onLine: (line: string) => void, onTrouble: (message: string, ended: boolean) => void): Promise<void> {
    if (this.child !== undefined) throw new Error(`${this.name} is already running`);
    const child = spawn(this.path(), this.args, { env: TOOL_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let ended = false;
    const end = (message: string) => {
      if (ended) return;
      ended = true;
      if (this.child === child) this.child = undefined;
      // Our own stop() kills it: only an exit nobody asked for is trouble.
      if (!child.killed) onTrouble(message, true);
    };
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        end(`${this.name} exited (${code ?? signal})`);
        resolve();
      });
      child.once('error', (err) => {
        end(`${this.name} could not run: ${err.message}`);
        resolve();
      });
    });
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', (line) => onTrouble(`${this.name}: ${line}`, false));
    const deadline = Date.now() + SUBSCRIBE_TIMEOUT_MS;
    while (!ended && !subscribed(child.pid)) {
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`${this.name} did not subscribe to kernel events within ${formatSeconds(SUBSCRIBE_TIMEOUT_MS)}`);
      }
      await new Promise((r) => setTimeout(r, SUBSCRIBE_POLL_MS));
    }
    if (ended) {
      await this.exited;
      throw new Error(`${this.name} ended before it subscribed`);
    }
  }

  async stop(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
  }
}

/** Whether one of `pid`'s netlink sockets has joined a multicast group (it receives events). */
function subscribed(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m?.[1] !== undefined) inodes.add(m[1]);
      } catch {
        // Closed meanwhile.
      }
    }
  } catch {
    return false;
  }
  if (inodes.size === 0) return false;
  // Columns: sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode.
  return readFileSync('/proc/net/netlink', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .some((cols) => inodes.has(cols[9] ?? '') && /[1-9a-f]/i.test(cols[3] ?? '0'));
}
