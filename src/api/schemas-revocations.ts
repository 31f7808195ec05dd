/** Wire schemas of the revocation routes (operators only). */
import { z } from 'zod';
import { SignedRevocationListSchema } from '../revocation/signed-list.ts';

const AgentId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/, 'an agent id: 1-128 of A-Z a-z 0-9 . _ @ -, starting with a letter or digit');

export const RevokeRequest = z.strictObject({
  agent_id: AgentId,
  reason: z.string().trim().min(1, 'give a reason').max(1024),
});

export const AgentIdParams = z.strictObject({ agent_id: AgentId });

export const RevocationInfo = z.object({
  agent_id: z.string(),
  reason: z.string(),
  revoked_by: z.string().describe('A principal name, `controller` (automatic), or `import:<key id>`.'),
  revoked_at: z.string(),
  source: z.string().describe('`local`, or the key id of the controller whose signed list it came from.'),
});

export const RevokeResponse = RevocationInfo.extend({
  created: z.boolean().describe('False when the agent was already revoked (the first revocation stands).'),
  sandboxes_ended: z.array(z.string()).describe('Persistent sandboxes ended (end_reason revoked).'),
  executions_ended: z.array(z.string()).describe('One-shot executions ended (termination_reason revoked).'),
});

export const RevocationList = z.object({ revocations: z.array(RevocationInfo) });

export const SignedRevocationList = SignedRevocationListSchema;

export const ImportResponse = z.object({
  issuer: z.string(),
  sequence: z.number().int(),
  added: z.array(z.string()),
  removed: z.array(z.string()),
});
