/**
 * Approvals from the SDK: list, read, wait for and decide the approvals that policy asks for. An
 * approver decides by signing `{approval_id, action_digest, decision, nonce, expires_at}` (RFC 8785
 * canonical JSON) with its Ed25519 key; WebCrypto only, like the rest of the SDK.
 */
import { bytesToBase64, utf8Bytes } from './bytes.ts';
import type { AirlockClient } from './client.ts';
import { AirlockError } from './errors.ts';
import type { CallOptions } from './http.ts';
import type { SigningKey } from './signing.ts';

/** The actions policy decides on (and an approval can be for): a sandbox action or an MCP proxy call. */
export type PolicyAction = 'execute' | 'create' | 'read' | 'exec' | 'files.read' | 'files.write' | 'network.change' | 'kill' | 'approve' | 'admin' | 'mcp.call' | 'mcp.prompt' | 'mcp.resource';

/** An approval as the server shows it. */
export interface ApprovalInfo {
  approval_id: string;
  /** `expired` is computed from the stored expiry on every read. */
  state: 'pending' | 'approved' | 'denied' | 'consumed' | 'expired';
  action: PolicyAction;
  sandbox_id: string | null;
  /** SHA-256 of the RFC 8785 canonical JSON of the admitted request: what an approver signs. */
  action_digest: string;
  requester: { name: string; agent_id: string };
  /** The resolved request, as admission gave it, for the approver to read. */
  summary?: unknown;
  policy_ids: string[];
  reasons: string[];
  created_at: string;
  expires_at: string;
  decided_by: string | null;
  decided_at: string | null;
  decision_expires_at: string | null;
}

/** `GET /api/v1/approvals`. */
export interface ApprovalList {
  approvals: ApprovalInfo[];
  total_count: number;
}

/** A signed decision as the server takes it. */
export interface SignedApprovalDecision {
  decision: 'approve' | 'deny';
  action_digest: string;
  nonce: string;
  expires_at: string;
  key_id: string;
  signature: string;
}

/** What an approver decides on. */
export interface DecisionFields {
  readonly approval_id: string;
  readonly action_digest: string;
  readonly decision: 'approve' | 'deny';
  /** When the decision becomes void: a Date, or an ISO 8601 UTC string. At most the approval's expiry. */
  readonly expires_at: Date | string;
  /** Default: 16 random bytes, base64url. */
  readonly nonce?: string | undefined;
}

/** Options of {@link waitForApproval}. */
export interface WaitForApprovalOptions extends CallOptions {
  /** Time between polls, ms (default 1000). */
  pollMs?: number | undefined;
}

function approvalPath(id: string, suffix = ''): string {
  if (typeof id !== 'string' || id === '') throw new AirlockError('approval id must be a non-empty string', { code: 'invalid_argument' });
  return `/api/v1/approvals/${encodeURIComponent(id)}${suffix}`;
}

function base64url(bytes: Uint8Array): string {
  return bytesToBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** `GET /api/v1/approvals`: the approvals the caller may see, newest first. */
export async function listApprovals(client: AirlockClient, options: CallOptions = {}): Promise<ApprovalInfo[]> {
  const list = await client.transport.json<ApprovalList>({ method: 'GET', path: '/api/v1/approvals', signals: [options.signal] });
  return list.approvals;
}

/** `GET /api/v1/approvals/{id}`. Refused with `approval_not_found` for one the caller may not see. */
export function getApproval(client: AirlockClient, id: string, options: CallOptions = {}): Promise<ApprovalInfo> {
  return client.transport.json({ method: 'GET', path: approvalPath(id), signals: [options.signal] });
}

/** `POST /api/v1/approvals/{id}/decision` with a decision signed by {@link signApprovalDecision}. */
export function decideApproval(client: AirlockClient, id: string, decision: SignedApprovalDecision, options: CallOptions = {}): Promise<ApprovalInfo> {
  return client.transport.json({ method: 'POST', path: approvalPath(id, '/decision'), json: decision, signals: [options.signal] });
}

/**
 * The exact text an approver signs: RFC 8785 canonical JSON of the five fields. Every value is a
 * string, so the canonical form is the members in code-unit order with JSON string escaping.
 */
export function decisionSigningText(fields: { approval_id: string; action_digest: string; decision: string; nonce: string; expires_at: string }): string {
  const members: [string, string][] = [
    ['action_digest', fields.action_digest],
    ['approval_id', fields.approval_id],
    ['decision', fields.decision],
    ['expires_at', fields.expires_at],
    ['nonce', fields.nonce],
  ];
  for (const [name, value] of members) {
    // RFC 8785 §3.2.2.2: a lone surrogate has no canonical form.
    if (typeof value !== 'string' || !value.isWellFormed()) throw new AirlockError(`${name} must be a well-formed string`, { code: 'invalid_argument' });
  }
  return `{${members.map(([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`).join(',')}}`;
}

/** Signs a decision with an approver's key (from `importSigningKey`); the result goes to {@link decideApproval}. */
export async function signApprovalDecision(key: SigningKey, fields: DecisionFields): Promise<SignedApprovalDecision> {
  const expiresAt = fields.expires_at instanceof Date ? fields.expires_at.toISOString() : fields.expires_at;
  const nonce = fields.nonce ?? base64url(crypto.getRandomValues(new Uint8Array(16)));
  const text = decisionSigningText({ approval_id: fields.approval_id, action_digest: fields.action_digest, decision: fields.decision, nonce, expires_at: expiresAt });
  const signature = new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, key.privateKey, utf8Bytes(text) as Uint8Array<ArrayBuffer>));
  return { decision: fields.decision, action_digest: fields.action_digest, nonce, expires_at: expiresAt, key_id: key.keyId, signature: base64url(signature) };
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Polls an approval until it is no longer pending and returns it (approved, denied, expired or
 * consumed). Abort `signal` to stop waiting. A pending approval always ends: it expires on time.
 */
export async function waitForApproval(client: AirlockClient, id: string, options: WaitForApprovalOptions = {}): Promise<ApprovalInfo> {
  const pollMs = options.pollMs ?? 1000;
  if (!(pollMs > 0)) throw new AirlockError(`pollMs must be positive, got ${pollMs}`, { code: 'invalid_argument' });
  for (;;) {
    const approval = await getApproval(client, id, { signal: options.signal });
    if (approval.state !== 'pending') return approval;
    await sleep(pollMs, options.signal);
  }
}
