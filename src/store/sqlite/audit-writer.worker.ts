/**
 * Worker thread of {@link SqliteAuditWriter}: its own connection to the store file, in one of two
 * roles. `writer` commits audit appends (and saved heads), the fsync included, so neither blocks
 * the controller's event loop; `checkpoint` copies the WAL back into the database on a schedule
 * (PASSIVE: it never waits for or blocks the writer), so no commit pays for a checkpoint.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { DatabaseSync } from 'node:sqlite';
import type { AuditLeafInput } from '../audit.ts';
import type { SignedTreeHead } from '../../audit/tree-head.ts';
import { SqliteAuditStore, type AuditSync } from './audit-store.ts';
import { loadSqlite } from './load-sqlite.ts';

/** What the worker is started with. */
export interface AuditWorkerData {
  readonly role: 'writer' | 'checkpoint';
  readonly path: string;
  readonly busyTimeoutMs: number;
  readonly sync: AuditSync;
  readonly checkpointIntervalMs: number;
}

/** A request to the writer. `size`/`last`: the tree's end the leaves were built for. */
export type AuditWriterRequest =
  | { readonly id: number; readonly op: 'append'; readonly size: number; readonly last: Uint8Array | null; readonly leaves: readonly AuditLeafInput[] }
  | { readonly id: number; readonly op: 'saveHead'; readonly head: SignedTreeHead };

/** The writer's answer: committed, the tree's end had moved (nothing written), or the store's error. */
export type AuditWriterReply =
  | { readonly id: number; readonly ok: true; readonly firstIndex: number; readonly leafHashes: readonly Uint8Array[] }
  | { readonly id: number; readonly ok: false; readonly moved: { readonly size: number; readonly last: Uint8Array | null } }
  | { readonly id: number; readonly ok: false; readonly error: string };

class EndMoved extends Error {
  readonly size: number;
  readonly last: Buffer | null;
  constructor(size: number, last: Buffer | null) {
    super('the audit tree grew since the leaves were built');
    this.size = size;
    this.last = last;
  }
}

function sameHash(a: Uint8Array | null, b: Buffer | null): boolean {
  if (a === null || b === null) return a === b;
  return b.equals(a);
}

function open(data: AuditWorkerData): DatabaseSync {
  const { DatabaseSync } = loadSqlite();
  const db = new DatabaseSync(data.path, { timeout: data.busyTimeoutMs });
  db.exec('PRAGMA synchronous = NORMAL');
  // Why: checkpoints are the checkpoint worker's, never a commit's (a commit that checkpoints stalls appends).
  db.exec('PRAGMA wal_autocheckpoint = 0');
  return db;
}

function runWriter(data: AuditWorkerData, port: NonNullable<typeof parentPort>): void {
  const store = new SqliteAuditStore(open(data), data.sync);
  port.on('message', (request: AuditWriterRequest) => {
    void handle(store, request).then((reply) => port.postMessage(reply));
  });
}

async function handle(store: SqliteAuditStore, request: AuditWriterRequest): Promise<AuditWriterReply> {
  try {
    if (request.op === 'saveHead') {
      await store.saveHead(request.head);
      return { id: request.id, ok: true, firstIndex: 0, leafHashes: [] };
    }
    // Why the check: the end is read inside the writer's transaction; leaves built for another end
    // (another process appended meanwhile) would break the chain, so they are rebuilt, never written.
    const appended = await store.append((size, last) => {
      if (size !== request.size || !sameHash(request.last, last)) throw new EndMoved(size, last);
      return request.leaves;
    });
    return { id: request.id, ok: true, firstIndex: appended.firstIndex, leafHashes: [...appended.leafHashes] };
  } catch (err) {
    if (err instanceof EndMoved) return { id: request.id, ok: false, moved: { size: err.size, last: err.last } };
    return { id: request.id, ok: false, error: (err as Error).message };
  }
}

function runCheckpoints(data: AuditWorkerData): void {
  const db = open(data);
  setInterval(() => {
    try {
      db.exec('PRAGMA wal_checkpoint(PASSIVE)');
    } catch {
      // Busy or failed: the next tick tries again; appends are unaffected (the WAL just grows).
    }
  }, data.checkpointIntervalMs);
}

const data = workerData as AuditWorkerData;
if (parentPort === null) throw new Error('audit-writer.worker.ts runs only as a worker thread');
if (data.role === 'writer') runWriter(data, parentPort);
else runCheckpoints(data);
