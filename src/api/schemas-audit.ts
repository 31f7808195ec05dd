/**
 * Wire schemas of the audit log (`/api/v1/audit…`, `/api/v1/events`): records, signed heads,
 * proofs and receipts. Same rules as `schemas.ts`: strict queries, OpenAPI generated from these.
 */
import { z } from 'zod';
import { AUDIT_KINDS } from '../audit/record.ts';

const Index = z.string().regex(/^(0|[1-9][0-9]{0,14})$/, 'a whole number (0 or more)').transform(Number);
const Size = z.string().regex(/^[1-9][0-9]{0,14}$/, 'a whole number (1 or more)').transform(Number);
const Identifier = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, '1 to 64 of A-Z a-z 0-9 . _ @ -');
const Hash = z.string().regex(/^[0-9a-f]{64}$/).describe('SHA-256, hex.');

export const TreeHead = z
  .object({
    tree_size: z.number().int(),
    root_hash: Hash.describe('RFC 6962 MTH of the first tree_size records.'),
    timestamp: z.string(),
    key_id: z.string().describe("RFC 7638 thumbprint of the controller key."),
    signature: z.string().describe('base64url Ed25519 signature of the RFC 8785 canonical JSON of {type: "airlock-audit-tree-head/v1", tree_size, root_hash, timestamp}.'),
  })
  .describe("A tree head signed with the controller's Ed25519 key.");

export const AuditRecordSchema = z
  .object({
    v: z.literal(1),
    index: z.number().int(),
    time: z.string(),
    prev: Hash.nullable().describe('Leaf hash of the record before it.'),
    kind: z.enum(AUDIT_KINDS),
    agent_id: z.string().nullable().describe('Tenancy: whose record it is.'),
    sandbox_id: z.string().nullable(),
    actor: z.object({ name: z.string(), role: z.string(), agent_id: z.string() }).nullable(),
    data: z.record(z.string(), z.unknown()),
  })
  .describe('An audit record; its RFC 8785 canonical JSON is the Merkle leaf.');

export const AuditQuery = z
  .object({
    agent: Identifier.optional().describe('Only this agent\'s records (an agent may name only itself).'),
    sandbox: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'a sandbox id').optional(),
    kind: z.enum(AUDIT_KINDS).optional(),
    after: Index.optional().describe('Only records with a larger index.'),
    limit: z.string().regex(/^[1-9][0-9]{0,3}$/, '1 to 1000').transform(Number).refine((n) => n <= 1000, 'at most 1000').optional(),
  })
  .strict();

export const AuditPage = z.object({
  records: z.array(AuditRecordSchema),
  /** Resume with after=next_after. */
  next_after: z.number().int().nullable().describe('Pass as after= to read on; null when this page was the last.'),
});

export const InclusionQuery = z.object({ index: Index, tree_size: Size.optional().describe('Default: the latest signed head.') }).strict();
export const InclusionProof = z.object({ index: z.number().int(), tree_size: z.number().int(), leaf_hash: Hash, inclusion_proof: z.array(Hash) });

export const ConsistencyQuery = z.object({ first: Size, second: Size }).strict();
export const ConsistencyProof = z.object({ first: z.number().int(), second: z.number().int(), consistency_proof: z.array(Hash) });

export const RecordIndexParams = z.object({ index: Index }).strict();

export const AuditReceipt = z
  .object({ type: z.literal('airlock-audit-receipt/v1'), record: AuditRecordSchema, leaf_hash: Hash, inclusion_proof: z.array(Hash), tree_head: TreeHead })
  .describe('A record, its inclusion proof and a signed head that includes it; `airlock receipt verify FILE --key CONTROLLER.pub` checks it offline.');

export const ControllerKey = z.object({ key_id: z.string(), public_key_pem: z.string() });

export const EventsQuery = z.object({ after: Index.optional().describe('Resume after this index (SSE: or the Last-Event-ID header).'), sandbox: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/).optional() }).strict();

export const AuditEventFrame = AuditRecordSchema.describe('One record per NDJSON line; SSE: event "record" with id = its index.');
