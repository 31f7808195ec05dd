/** Wire schemas of the contract routes (operators only): the same contracts `airlock contracts` handles. */
import { z } from 'zod';
import { ContractSchema } from '../contracts/schema.ts';

export const ContractInfo = z.object({
  agent_id: z.string(),
  contract: ContractSchema,
  updated_at: z.string(),
  updated_by: z.string().describe('The principal that set it (`uid:N` for the CLI).'),
});

export const ContractList = z.object({ contracts: z.array(ContractInfo) });

export const ContractRemoved = z.object({ agent_id: z.string(), removed: z.literal(true) });

export const ContractSuggestion = z.object({
  agent_id: z.string(),
  contract: ContractSchema.describe('Ready to PUT back (or to `airlock contracts set`) once reviewed.'),
  evidence: z.object({ sandboxes: z.number().int(), executions: z.number().int(), egress: z.number().int() }).describe('How many audit records of the agent it was drawn from.'),
});
