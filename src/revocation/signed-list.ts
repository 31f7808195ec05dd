/**
 * The revocation list as one controller hands it to another: this controller's own revocations,
 * its sequence number and the time it was issued, signed with the controller key (Ed25519 over the
 * RFC 8785 canonical JSON of `list`). The importer verifies the signature against the keys it was
 * told to trust, and refuses a list older than its age limit or not newer than the last one it
 * applied from that issuer.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from '../signing/canonical-json.ts';
import { keyId, publicKeyOf } from '../signing/keys.ts';
import type { Revocation } from '../store/revocations.ts';

/** Format tag of a signed list. */
export const LIST_FORMAT = 'airlock-revocation-list/1';
/** How far ahead of this host's clock a list's issue time may be (clock skew between controllers). */
const MAX_SKEW_MS = 5 * 60 * 1000;

/** The wire form of one entry. */
const Entry = z.strictObject({
  agent_id: z.string().min(1).max(128),
  reason: z.string().max(1024),
  revoked_by: z.string().max(256),
  revoked_at: z.iso.datetime(),
});

/** The schema of a signed list: what `revocations import` and the API accept. */
export const SignedRevocationListSchema = z.strictObject({
  list: z.strictObject({
    format: z.literal(LIST_FORMAT),
    issuer: z.string().min(1).max(128).describe('Key id (RFC 7638 thumbprint) of the controller key that signed it.'),
    sequence: z.number().int().min(0),
    issued_at: z.iso.datetime(),
    revocations: z.array(Entry).max(100_000),
  }),
  signature: z.base64().describe('Ed25519 signature of the canonical JSON of `list`, base64.'),
});
export type SignedRevocationList = z.infer<typeof SignedRevocationListSchema>;

/** Why a list was refused. */
export type ListRefusalCode = 'invalid_list' | 'untrusted_issuer' | 'bad_signature' | 'stale_list';

/** A list refused on import; nothing was applied. */
export class ListRefusal extends Error {
  override readonly name = 'ListRefusal';
  readonly code: ListRefusalCode;

  constructor(code: ListRefusalCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Signs this controller's own revocations (`source: local`) as list number `sequence`. */
export function signList(input: { key: KeyObject; sequence: number; revocations: readonly Revocation[]; nowMs: number }): SignedRevocationList {
  const list = {
    format: LIST_FORMAT,
    issuer: keyId(publicKeyOf(input.key)),
    sequence: input.sequence,
    issued_at: new Date(input.nowMs).toISOString(),
    // Why only local ones: re-exporting what came from elsewhere would let lists echo between controllers for ever.
    revocations: input.revocations
      .filter((r) => r.source === 'local')
      .map((r) => ({ agent_id: r.agentId, reason: r.reason, revoked_by: r.revokedBy, revoked_at: new Date(r.revokedAtMs).toISOString() })),
  } as const;
  const signature = sign(null, Buffer.from(canonicalJson(list)), input.key).toString('base64');
  return { list, signature };
}

/** A verified list: who issued it, its number and its entries, ready for the store. */
export interface VerifiedList {
  readonly issuer: string;
  readonly sequence: number;
  readonly entries: Omit<Revocation, 'source'>[];
}

/**
 * Checks a list's shape, that one of `trusted` signed it, and its age; throws a {@link ListRefusal}.
 * Whether it is newer than the last one applied is the store's to check, in the same transaction.
 */
export function verifyList(input: unknown, trusted: readonly KeyObject[], options: { nowMs: number; maxAgeMs: number }): VerifiedList {
  const parsed = SignedRevocationListSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ListRefusal('invalid_list', `not a signed revocation list: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  const { list, signature } = parsed.data;
  const key = trusted.find((k) => keyId(k) === list.issuer);
  if (key === undefined) throw new ListRefusal('untrusted_issuer', `revocation list issued by ${list.issuer}, a key not in revocation.trustedKeys`);
  // Why verify the canonical form of what was parsed: the signature must cover exactly what is applied.
  if (!verify(null, Buffer.from(canonicalJson(list)), key, Buffer.from(signature, 'base64'))) {
    throw new ListRefusal('bad_signature', `revocation list of ${list.issuer}: the signature does not verify (forged or altered)`);
  }
  const issued = Date.parse(list.issued_at);
  if (issued > options.nowMs + MAX_SKEW_MS) throw new ListRefusal('stale_list', `revocation list of ${list.issuer} is issued in the future (${list.issued_at})`);
  if (options.nowMs - issued > options.maxAgeMs) {
    throw new ListRefusal('stale_list', `revocation list ${list.sequence} of ${list.issuer} was issued at ${list.issued_at}, longer ago than revocation.maxListAgeSeconds`);
  }
  const entries = list.revocations.map((e) => ({ agentId: e.agent_id, reason: e.reason, revokedBy: `import:${list.issuer}`, revokedAtMs: Date.parse(e.revoked_at) }));
  return { issuer: list.issuer, sequence: list.sequence, entries };
}
