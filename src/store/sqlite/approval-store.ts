/** Approvals in the SQLite store: one row each, every state change one immediate transaction. */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { ApprovalAction } from '../../policy/request.ts';
import { approvalExpired } from '../approvals.ts';
import type { ApprovalDecisionRecord, ApprovalStore, ConsumeOutcome, NewApproval, RecordDecisionOutcome, StoredApproval, StoredApprovalState } from '../approvals.ts';
import { StoreError } from '../errors.ts';
import { inTransaction } from './transaction.ts';

/** Most approvals one list answers with (newest first). */
export const APPROVAL_LIST_LIMIT = 500;

interface ApprovalRow {
  id: string;
  action_digest: string;
  requester_name: string;
  requester_agent_id: string;
  action: string;
  sandbox_id: string | null;
  summary_json: string;
  policy_ids_json: string;
  reasons_json: string;
  created_at: number;
  expires_at: number;
  state: string;
  decided_by: string | null;
  decided_key_id: string | null;
  decided_at: number | null;
  decision_expires_at: number | null;
  consumed_at: number | null;
}

// Why durable: a decision or a consumption lost to a power cut could let an approval be used twice.
const DURABLE = { durable: true } as const;
const COLUMNS = 'id, action_digest, requester_name, requester_agent_id, action, sandbox_id, summary_json, policy_ids_json, reasons_json, created_at, expires_at, state, decided_by, decided_key_id, decided_at, decision_expires_at, consumed_at';

function toApproval(row: ApprovalRow): StoredApproval {
  return {
    id: row.id,
    actionDigest: row.action_digest,
    requesterName: row.requester_name,
    requesterAgentId: row.requester_agent_id,
    action: row.action as ApprovalAction,
    sandboxId: row.sandbox_id,
    summary: JSON.parse(row.summary_json) as unknown,
    policyIds: JSON.parse(row.policy_ids_json) as string[],
    reasons: JSON.parse(row.reasons_json) as string[],
    createdAtMs: row.created_at,
    expiresAtMs: row.expires_at,
    state: row.state as StoredApprovalState,
    decidedBy: row.decided_by,
    decidedKeyId: row.decided_key_id,
    decidedAtMs: row.decided_at,
    decisionExpiresAtMs: row.decision_expires_at,
    consumedAtMs: row.consumed_at,
  };
}

function prepare(db: DatabaseSync) {
  return {
    insert: db.prepare(
      `INSERT INTO approvals (id, action_digest, requester_name, requester_agent_id, action, sandbox_id, summary_json, policy_ids_json, reasons_json, created_at, expires_at, state)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')`,
    ),
    get: db.prepare(`SELECT ${COLUMNS} FROM approvals WHERE id = ?`),
    listAll: db.prepare(`SELECT ${COLUMNS} FROM approvals ORDER BY created_at DESC, id LIMIT ${APPROVAL_LIST_LIMIT}`),
    listOf: db.prepare(`SELECT ${COLUMNS} FROM approvals WHERE requester_agent_id = ? ORDER BY created_at DESC, id LIMIT ${APPROVAL_LIST_LIMIT}`),
    decide: db.prepare("UPDATE approvals SET state = ?, decided_by = ?, decided_key_id = ?, decided_at = ?, decision_expires_at = ? WHERE id = ? AND state = 'pending'"),
    consume: db.prepare("UPDATE approvals SET state = 'consumed', consumed_at = ? WHERE id = ? AND state = 'approved'"),
    dropNonces: db.prepare('DELETE FROM approval_nonces WHERE expires_at <= ?'),
    findNonce: db.prepare('SELECT 1 FROM approval_nonces WHERE nonce = ?'),
    insertNonce: db.prepare('INSERT INTO approval_nonces (nonce, expires_at) VALUES (?, ?)'),
  } satisfies Record<string, StatementSync>;
}

/** The {@link ApprovalStore} of {@link SqliteStore}, on its connection. */
export class SqliteApprovalStore implements ApprovalStore {
  readonly #db: DatabaseSync;
  readonly #s: ReturnType<typeof prepare>;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#s = prepare(db);
  }

  #row(id: string): StoredApproval | undefined {
    const row = this.#s.get.get(id) as ApprovalRow | undefined;
    return row === undefined ? undefined : toApproval(row);
  }

  async create(input: NewApproval): Promise<StoredApproval> {
    const summary = JSON.stringify(input.summary ?? null);
    return inTransaction(this.#db, () => {
        if (this.#s.get.get(input.id) !== undefined) throw new StoreError('invalid_input', `approval id ${input.id} is already used`);
        this.#s.insert.run(input.id, input.actionDigest, input.requesterName, input.requesterAgentId, input.action, input.sandboxId, summary, JSON.stringify(input.policyIds), JSON.stringify(input.reasons), input.createdAtMs, input.expiresAtMs);
        return this.#row(input.id) as StoredApproval;
      }, DURABLE);
  }

  async get(id: string): Promise<StoredApproval | undefined> {
    return this.#row(id);
  }

  async list(filter: { readonly requesterAgentId?: string | undefined } = {}): Promise<StoredApproval[]> {
    const rows = (filter.requesterAgentId === undefined ? this.#s.listAll.all() : this.#s.listOf.all(filter.requesterAgentId)) as unknown as ApprovalRow[];
    return rows.map(toApproval);
  }

  async recordDecision(input: ApprovalDecisionRecord): Promise<RecordDecisionOutcome> {
    return inTransaction(this.#db, (): RecordDecisionOutcome => {
        const approval = this.#row(input.id);
        if (approval === undefined) return 'not_found';
        if (approvalExpired(approval, input.nowMs) || input.decisionExpiresAtMs <= input.nowMs) return 'expired';
        this.#s.dropNonces.run(Math.floor(input.nowMs));
        // Why before the state check: a replayed decision is named as a replay, not as "decided".
        if (this.#s.findNonce.get(input.nonce) !== undefined) return 'nonce_replayed';
        if (approval.state !== 'pending') return 'already_decided';
        const state = input.decision === 'approve' ? 'approved' : 'denied';
        this.#s.decide.run(state, input.decidedBy, input.keyId, input.nowMs, input.decisionExpiresAtMs, input.id);
        this.#s.insertNonce.run(input.nonce, Math.ceil(input.decisionExpiresAtMs));
        return 'decided';
      }, DURABLE);
  }

  async consume(id: string, nowMs: number): Promise<ConsumeOutcome> {
    return inTransaction(this.#db, (): ConsumeOutcome => {
        const approval = this.#row(id);
        if (approval === undefined) return 'not_found';
        if (approval.state === 'consumed') return 'already_consumed';
        if (approval.state === 'denied') return 'denied';
        if (approvalExpired(approval, nowMs)) return 'expired';
        if (approval.state === 'pending') return 'pending';
        // Conditional on the state: the write lock makes the read and this update one step.
        return Number(this.#s.consume.run(nowMs, id).changes) === 1 ? 'consumed' : 'already_consumed';
      }, DURABLE);
  }
}
