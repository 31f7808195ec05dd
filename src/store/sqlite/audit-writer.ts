/**
 * The SQLite audit store with its writes off the event loop: appends and saved heads are committed
 * by a worker thread on its own connection (node:sqlite commits, fsync included, are synchronous,
 * and would stall every request while they run), and WAL checkpoints run in a second worker on a
 * schedule. Reads (proofs, queries, heads) stay on the store's connection: WAL lets them run beside
 * the writer, and they see only committed transactions.
 */
import type { Worker } from 'node:worker_threads';
import type { PerfectNode } from '../../audit/merkle.ts';
import type { SignedTreeHead } from '../../audit/tree-head.ts';
import type { AuditAppended, AuditLeafInput, AuditQuery, AuditStore, StoredAuditRow } from '../audit.ts';
import type { SqliteAuditStore } from './audit-store.ts';
import type { AuditWorkerData, AuditWriterReply, AuditWriterRequest } from './audit-writer.worker.ts';

/** Where and how the writer commits. */
export interface AuditWriterOptions {
  readonly path: string;
  readonly busyTimeoutMs: number;
  readonly sync: AuditWorkerData['sync'];
  /** How often the WAL is checkpointed (PASSIVE), ms (default 500). */
  readonly checkpointIntervalMs?: number | undefined;
}

interface Waiting {
  readonly resolve: (reply: AuditWriterReply) => void;
  readonly reject: (err: Error) => void;
}

type Request = AuditWriterRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

const WORKER_URL = new URL('./audit-writer.worker.ts', import.meta.url);
// Leaves are rebuilt this often at most when other processes keep appending; then the append fails.
const MAX_REBUILDS = 100;

/** {@link AuditStore} over SQLite whose writes run in a worker thread; started on the first write. */
export class SqliteAuditWriter implements AuditStore {
  readonly #reads: SqliteAuditStore;
  readonly #options: AuditWriterOptions;
  #writer: Worker | undefined;
  #checkpointer: Worker | undefined;
  readonly #waiting = new Map<number, Waiting>();
  readonly #inflight = new Set<Promise<AuditWriterReply>>();
  #nextId = 0;
  /** The tree's end after this store's last commit: what the next leaves are built for (checked by the writer). */
  #end: { size: number; last: Buffer | null } = { size: -1, last: null };

  constructor(reads: SqliteAuditStore, options: AuditWriterOptions) {
    this.#reads = reads;
    this.#options = options;
  }

  #start(role: AuditWorkerData['role']): Worker {
    const data: AuditWorkerData = { role, path: this.#options.path, busyTimeoutMs: this.#options.busyTimeoutMs, sync: this.#options.sync, checkpointIntervalMs: this.#options.checkpointIntervalMs ?? 500 };
    // Loaded when a writer starts: a process that only reads, or writes on its own thread (`airlock run`), never needs worker_threads.
    const { Worker } = process.getBuiltinModule('node:worker_threads');
    const worker = new Worker(WORKER_URL, { workerData: data });
    // Why unref while idle: an open store alone must not keep a CLI process alive; a pending write does (see #request).
    worker.unref();
    return worker;
  }

  #writerWorker(): Worker {
    if (this.#writer !== undefined) return this.#writer;
    const worker = this.#start('writer');
    worker.on('message', (reply: AuditWriterReply) => {
      const waiting = this.#waiting.get(reply.id);
      this.#waiting.delete(reply.id);
      if (this.#waiting.size === 0) worker.unref();
      waiting?.resolve(reply);
    });
    const lost = (err: Error) => {
      // An earlier writer's late exit event: what waits now belongs to its successor.
      if (this.#writer !== worker) return;
      this.#writer = undefined;
      // Why reject every waiting write: the worker is gone, so none of them is known to be committed.
      for (const waiting of this.#waiting.values()) waiting.reject(err);
      this.#waiting.clear();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`the audit writer thread exited (code ${code})`)));
    this.#writer = worker;
    if (this.#checkpointer === undefined) {
      const checkpointer = this.#start('checkpoint');
      // Why a listener: a worker's unhandled error would crash the controller. Without checkpoints the
      // WAL only grows; the next writer start starts another checkpointer.
      checkpointer.on('error', () => {
        if (this.#checkpointer === checkpointer) this.#checkpointer = undefined;
      });
      this.#checkpointer = checkpointer;
    }
    return worker;
  }

  #request(request: Request): Promise<AuditWriterReply> {
    const worker = this.#writerWorker();
    const id = this.#nextId++;
    const reply = new Promise<AuditWriterReply>((resolve, reject) => {
      if (this.#waiting.size === 0) worker.ref();
      this.#waiting.set(id, { resolve, reject });
      worker.postMessage({ ...request, id });
    });
    this.#inflight.add(reply);
    const forget = () => void this.#inflight.delete(reply);
    reply.then(forget, forget);
    return reply;
  }

  async append(build: (size: number, lastLeafHash: Buffer | null) => readonly AuditLeafInput[]): Promise<AuditAppended> {
    for (let attempt = 0; attempt <= MAX_REBUILDS; attempt++) {
      const { size, last } = this.#end;
      // Size -1 (not known yet): the writer answers with the real end and nothing is written.
      const leaves = size < 0 ? [] : build(size, last);
      let reply: AuditWriterReply;
      try {
        reply = await this.#request({ op: 'append', size, last, leaves });
      } catch (err) {
        this.#end = { size: -1, last: null };
        throw err;
      }
      if (reply.ok) {
        const leafHashes = reply.leafHashes.map((h) => Buffer.from(h));
        this.#end = { size: reply.firstIndex + leafHashes.length, last: leafHashes.at(-1) ?? last };
        return { firstIndex: reply.firstIndex, leafHashes };
      }
      if ('error' in reply) {
        this.#end = { size: -1, last: null };
        throw new Error(reply.error);
      }
      this.#end = { size: reply.moved.size, last: reply.moved.last === null ? null : Buffer.from(reply.moved.last) };
    }
    throw new Error(`audit append: the tree kept growing under other writers (${MAX_REBUILDS} rebuilds); nothing was written`);
  }

  async saveHead(head: SignedTreeHead): Promise<void> {
    const reply = await this.#request({ op: 'saveHead', head });
    if (!reply.ok && 'error' in reply) throw new Error(reply.error);
  }

  size(): Promise<number> {
    return this.#reads.size();
  }

  nodes(wanted: readonly PerfectNode[]): Promise<Buffer[]> {
    return this.#reads.nodes(wanted);
  }

  rows(fromIndex: number, limit: number): Promise<StoredAuditRow[]> {
    return this.#reads.rows(fromIndex, limit);
  }

  query(query: AuditQuery): Promise<StoredAuditRow[]> {
    return this.#reads.query(query);
  }

  latestHead(): Promise<SignedTreeHead | undefined> {
    return this.#reads.latestHead();
  }

  heads(): Promise<SignedTreeHead[]> {
    return this.#reads.heads();
  }

  /** Waits for the writes in flight, then stops both threads. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#inflight]);
    const writer = this.#writer;
    const checkpointer = this.#checkpointer;
    this.#writer = undefined;
    this.#checkpointer = undefined;
    await Promise.all([writer?.terminate(), checkpointer?.terminate()]);
  }
}
