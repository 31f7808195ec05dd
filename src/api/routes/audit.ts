/**
 * The audit log over HTTP: signed tree heads (latest, or signed now), inclusion and consistency
 * proofs, records by query, a record's receipt, the controller's public key, and `GET
 * /api/v1/events`, which streams records as they are appended (NDJSON, or SSE with ids), resumable
 * from an index. Tenancy: a caller policy lets do `admin` sees every record; any other caller sees
 * only its own agent's. Heads, proofs and the key carry hashes only, so every authenticated caller
 * may read them.
 */
import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Caller } from '../../admission/caller.ts';
import type { AuditLog, ReadRecord } from '../../audit/log.ts';
import { publicKeyOf, keyId, publicKeyPem } from '../../signing/keys.ts';
import type { KeyObject } from 'node:crypto';
import { admit, callerOf } from '../admit.ts';
import type { RouteContext } from '../context.ts';
import { ApiError, parseOrThrow } from '../errors.ts';
import { ROUTES } from '../route-table.ts';
import { STREAM_CONTENT_TYPE, type StreamFormat } from '../exec-stream.ts';

/** Records per page unless the query says otherwise. */
const DEFAULT_PAGE = 100;

/** Keep-alives and the per-caller bound of `GET /api/v1/events`. */
export interface EventStreamOptions {
  /** Milliseconds between keep-alives on an idle stream (default 15 s). */
  readonly heartbeatMs?: number;
  /** Open event streams one principal may hold at once (default 8); one more is refused with 429. */
  readonly maxStreamsPerPrincipal?: number;
}

/** Default keep-alive period: under the 30–60 s idle timeouts of common proxies and load balancers. */
const DEFAULT_HEARTBEAT_MS = 15_000;
/** Default bound on one principal's open streams. */
const DEFAULT_MAX_STREAMS = 8;

/** What the audit routes need. */
export interface AuditRoutesOptions {
  readonly audit: AuditLog;
  /** The controller key (only its public half is served). */
  readonly controllerKey: KeyObject;
  readonly events?: EventStreamOptions;
}

/** The agent whose records `caller` may read: undefined for every agent (admin). */
function scopeOf(ctx: RouteContext, caller: Caller): string | undefined {
  return ctx.admission.permits(caller, 'admin') ? undefined : caller.agentId;
}

/** The agent filter of a query: an agent may name only itself. */
function agentFilter(ctx: RouteContext, caller: Caller, requested: string | undefined): string | undefined {
  const scope = scopeOf(ctx, caller);
  if (scope === undefined) return requested;
  // Why refuse rather than silently narrow: a caller asking for another tenant's records should be told no.
  if (requested !== undefined && requested !== scope) throw new ApiError('forbidden', `an agent reads only its own audit records (agent ${scope})`);
  return scope;
}

async function sizeAtLeast(audit: AuditLog, index: number): Promise<void> {
  const size = await audit.size();
  if (index >= size) throw new ApiError('audit_record_not_found', `no audit record ${index}: the log has ${size}`);
}

/** Registers the audit routes; without a log (`kept` undefined) each answers 503 audit_unavailable. */
export function registerAuditRoutes(app: FastifyInstance, ctx: RouteContext, kept: AuditRoutesOptions | undefined): void {
  if (kept === undefined) {
    registerWithoutLog(app);
    return;
  }
  const options = kept;
  const { audit } = options;
  const { auditQuery, auditHead, auditSignHead, auditInclusion, auditConsistency, auditReceipt, auditKey, events } = ROUTES;

  app.get(auditQuery.url, async (request) => {
    const query = parseOrThrow(auditQuery.query, request.query, 'query');
    const limit = query.limit ?? DEFAULT_PAGE;
    const records = await audit.query({ agentId: agentFilter(ctx, callerOf(request), query.agent), sandboxId: query.sandbox, kind: query.kind, afterIndex: query.after, limit });
    const last = records[records.length - 1];
    return { records: records.map((r) => r.record), next_after: records.length === limit && last !== undefined ? last.index : null };
  });

  app.get(auditHead.url, async () => (await audit.latestHead()) ?? audit.signHead());

  app.post(auditSignHead.url, async (request) => {
    // Signing on demand costs a signature and a durable write: the admin action.
    await admit(ctx, request, { action: 'admin', parameters: { route: 'audit.heads' } });
    return audit.signHead();
  });

  app.get(auditInclusion.url, async (request) => {
    const query = parseOrThrow(auditInclusion.query, request.query, 'query');
    const treeSize = query.tree_size ?? (await audit.signHead()).tree_size;
    if (query.index >= treeSize) throw new ApiError('invalid_request', `query.index: record ${query.index} is not in a tree of size ${treeSize}`);
    if (treeSize > (await audit.size())) throw new ApiError('invalid_request', `query.tree_size: the log has ${await audit.size()} records`);
    const [leaf] = await audit.rows(query.index, 1);
    const proof = await audit.inclusionProof(query.index, treeSize);
    return { index: query.index, tree_size: treeSize, leaf_hash: leaf?.leafHash.toString('hex') ?? '', inclusion_proof: proof.map((p) => p.toString('hex')) };
  });

  app.get(auditConsistency.url, async (request) => {
    const query = parseOrThrow(auditConsistency.query, request.query, 'query');
    if (query.first > query.second) throw new ApiError('invalid_request', 'query.first: must not be larger than second');
    if (query.second > (await audit.size())) throw new ApiError('invalid_request', `query.second: the log has ${await audit.size()} records`);
    const proof = await audit.consistencyProof(query.first, query.second);
    return { first: query.first, second: query.second, consistency_proof: proof.map((p) => p.toString('hex')) };
  });

  app.get(auditReceipt.url, async (request) => {
    const { index } = parseOrThrow(auditReceipt.params, request.params, 'params');
    await sizeAtLeast(audit, index);
    const receipt = await audit.receipt(index);
    const scope = scopeOf(ctx, callerOf(request));
    // Why 404 and not 403: another tenant's record is not there for this caller.
    if (scope !== undefined && receipt.record.agent_id !== scope) throw new ApiError('audit_record_not_found', `no audit record ${index} for agent ${scope}`);
    return receipt;
  });

  app.get(auditKey.url, async () => {
    const pub = publicKeyOf(options.controllerKey);
    return { key_id: keyId(pub), public_key_pem: publicKeyPem(pub) };
  });

  const heartbeatMs = options.events?.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const maxStreams = options.events?.maxStreamsPerPrincipal ?? DEFAULT_MAX_STREAMS;
  // Open streams per principal, for this server only.
  const openStreams = new Map<string, number>();
  app.get(events.url, async (request, reply) => {
    const query = parseOrThrow(events.query, request.query, 'query');
    const principal = callerOf(request).name;
    const open = openStreams.get(principal) ?? 0;
    // Why a bound: each stream holds a connection and a subscription for as long as the client likes; one principal must not exhaust them.
    if (open >= maxStreams) throw new ApiError('capacity_exceeded', `at most ${maxStreams} open event streams per principal; close one first`, { 'retry-after': '5' });
    const format: StreamFormat = (request.headers.accept ?? '').includes('text/event-stream') ? 'sse' : 'ndjson';
    const lastEventId = request.headers['last-event-id'];
    let after = query.after ?? -1;
    if (typeof lastEventId === 'string' && lastEventId !== '') {
      if (!/^(0|[1-9][0-9]{0,14})$/.test(lastEventId)) throw new ApiError('invalid_request', 'Last-Event-ID: the index of the last record received');
      after = Math.max(after, Number(lastEventId));
    }
    const agentId = scopeOf(ctx, callerOf(request));
    const out = new PassThrough();
    out.on('error', () => undefined);
    const matches = (r: ReadRecord) => (agentId === undefined || r.record.agent_id === agentId) && (query.sandbox === undefined || r.record.sandbox_id === query.sandbox);
    const write = (r: ReadRecord) => {
      if (out.destroyed || out.writableEnded || r.index <= after || !matches(r)) return;
      after = r.index;
      const json = JSON.stringify(r.record);
      out.write(format === 'ndjson' ? `${json}\n` : `id: ${r.index}\nevent: record\ndata: ${json}\n\n`);
    };
    // Live records are held until the backlog is out, so none is lost or sent twice at the seam.
    const held: ReadRecord[] = [];
    let live = false;
    const unsubscribe = audit.subscribe((r) => (live ? write(r) : held.push(r)));
    // The response's close: the client went away (the request's own close fires once its body is read).
    openStreams.set(principal, open + 1);
    // Why keep-alives: an idle stream is otherwise closed by proxies on the way, and a client can't tell a quiet log from a dead server.
    const heartbeat = setInterval(() => {
      if (live && !out.destroyed && !out.writableEnded) out.write(format === 'ndjson' ? '\n' : ': keep-alive\n\n');
    }, heartbeatMs);
    heartbeat.unref();
    reply.raw.once('close', () => {
      clearInterval(heartbeat);
      const left = (openStreams.get(principal) ?? 1) - 1;
      if (left > 0) openStreams.set(principal, left);
      else openStreams.delete(principal);
      unsubscribe();
      out.end();
    });
    reply.code(200).type(STREAM_CONTENT_TYPE[format]).header('cache-control', 'no-store').header('x-accel-buffering', 'no').header('x-content-type-options', 'nosniff');
    void streamBacklog(audit, agentId, query.sandbox, () => after, write).then(() => {
      live = true;
      for (const r of held.splice(0)) write(r);
    }, () => out.end());
    return reply.send(out);
  });
}

/** The audit routes of a server that keeps no log: registered all the same (the API is one shape), each refused. */
function registerWithoutLog(app: FastifyInstance): void {
  const refuse = async () => {
    throw new ApiError('audit_unavailable', 'this server keeps no audit log');
  };
  for (const route of [ROUTES.auditQuery, ROUTES.auditHead, ROUTES.auditInclusion, ROUTES.auditConsistency, ROUTES.auditReceipt, ROUTES.auditKey, ROUTES.events]) app.get(route.url, refuse);
  app.post(ROUTES.auditSignHead.url, refuse);
}

async function streamBacklog(audit: AuditLog, agentId: string | undefined, sandboxId: string | undefined, after: () => number, write: (r: ReadRecord) => void): Promise<void> {
  for (;;) {
    const page = await audit.query({ agentId, sandboxId, afterIndex: after(), limit: 500 });
    for (const r of page) write(r);
    if (page.length < 500) return;
  }
}
