/**
 * Pins against rug pulls: when an operator approves a server (`airlock mcp approve SERVER`), each
 * tool's definition (name, description, inputSchema, annotations) is hashed and kept; a tool whose
 * definition differs later, or that was never approved, is blocked until it is approved again.
 *
 * The pins are a root-private file beside the controller's other state (`<stateDir>/mcp/pins.json`,
 * 0600 in a 0700 directory). Why root-private: whoever can write a pin can make a poisoned
 * definition pass; a file that is not root's and private is read as no pins at all (fail closed).
 */
import { constants } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { open, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { canonicalDigest } from '../signing/canonical-json.ts';
import { ensurePrivateDir, isPrivateDir } from '../host/root-private-files.ts';

/** A tool's definition as a server lists it (only the pinned fields matter). */
export interface PinnedFields {
  name: string;
  description?: string | undefined;
  inputSchema?: unknown;
  annotations?: unknown;
}

/** The pins of one server. */
export interface ServerPins {
  approved_at: string;
  approved_by: string;
  /** Tool name → `sha256:<hex>` of its definition. */
  tools: Record<string, string>;
}

/** Everything pinned, by server name. */
export interface PinFile {
  version: 1;
  servers: Record<string, ServerPins>;
}

const EMPTY: PinFile = Object.freeze({ version: 1, servers: {} }) as PinFile;

/**
 * `sha256:<hex>` of the RFC 8785 canonical JSON of a tool's pinned fields. Why only these four:
 * they are what the model reads and what decides the call's shape; a title or icon change is not a
 * rug pull. An absent field is `null`, so removing a description changes the digest too.
 */
export function definitionDigest(tool: PinnedFields): string {
  return canonicalDigest({ name: tool.name, description: tool.description ?? null, inputSchema: tool.inputSchema ?? null, annotations: tool.annotations ?? null });
}

/** Where the pins live. */
export function pinsDir(stateDir: string): string {
  return join(stateDir, 'mcp');
}

/** The pins file, read fresh on every call (an approval by the CLI holds at the proxy's next list). */
export class PinStore {
  readonly #dir: string;
  readonly #file: string;

  constructor(stateDir: string) {
    this.#dir = pinsDir(stateDir);
    this.#file = join(this.#dir, 'pins.json');
  }

  /** The pins; none when the file is absent, or not root's and private (fail closed: every tool blocked). */
  async read(): Promise<PinFile> {
    if (!(await isPrivateDir(this.#dir))) return EMPTY;
    let text: string;
    try {
      // Why O_NOFOLLOW and fstat: the file read is the file checked, never a link to another one.
      const handle = await open(this.#file, constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        const s = await handle.stat();
        if (!s.isFile() || s.uid !== process.geteuid?.() || (s.mode & 0o077) !== 0) return EMPTY;
        text = await handle.readFile('utf8');
      } finally {
        await handle.close();
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY;
      throw err;
    }
    const parsed = JSON.parse(text) as PinFile;
    if (parsed.version !== 1 || typeof parsed.servers !== 'object' || parsed.servers === null) throw new Error(`${this.#file}: not a pins file of version 1`);
    return parsed;
  }

  /** Replaces the pins of `server` with `tools`; returns the file as written. */
  async approve(server: string, tools: readonly PinnedFields[], approvedBy: string): Promise<PinFile> {
    if (!(await ensurePrivateDir(this.#dir))) throw new Error(`${this.#dir} is not a root-owned private directory (mode 0700): pins can't be kept there`);
    const unlock = await this.#lock();
    try {
      const current = await this.read();
      const pins: ServerPins = { approved_at: new Date().toISOString(), approved_by: approvedBy, tools: Object.fromEntries(tools.map((t) => [t.name, definitionDigest(t)])) };
      const next: PinFile = { version: 1, servers: { ...current.servers, [server]: pins } };
      const temp = `${this.#file}.${randomUUID()}.tmp`;
      await writeFile(temp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      await rename(temp, this.#file);
      return next;
    } finally {
      await unlock();
    }
  }

  /**
   * An exclusive lock file beside the pins (O_EXCL). Why: two approvals at once (two CLI runs, or
   * one run approving several servers) would each write what they read, and one would be lost.
   * A lock older than a minute is a crashed writer's and is taken over.
   */
  async #lock(): Promise<() => Promise<void>> {
    const path = `${this.#file}.lock`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await (await open(path, 'wx', 0o600)).close();
        return () => unlink(path).catch(() => undefined);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const age = await stat(path).then((s) => Date.now() - s.mtimeMs, () => 0);
        if (age > 60_000) await unlink(path).catch(() => undefined);
        else if (Date.now() > deadline) throw new Error(`${path}: another approval holds the pins for over 30 s`, { cause: err });
        else await sleep(20);
      }
    }
  }

  /** `sha256:<hex>` of all pins (part of the proxy's policy hash). */
  async digest(): Promise<string> {
    return canonicalDigest((await this.read()).servers);
  }
}
