/** Schemas of the forensics route. */
import { z } from 'zod';

/** What a capture answers: where the signed bundle is and what became of the sandbox. */
export const ForensicCapture = z
  .object({
    path: z.string().describe('The bundle on the controller host: <forensics dir>/agent-<sandbox id>-<timestamp>.zip.'),
    sandbox_id: z.string(),
    entries: z.number().int().describe('Entries in the bundle, MANIFEST.json and MANIFEST.sig included.'),
    bytes: z.number().int(),
    frozen: z.enum(['cgroup-v2', 'cgroup-v1-freezer', 'runsc-pause']).nullable().describe('How the sandbox was frozen while read.'),
    after: z.enum(['kill', 'resume']).describe('What became of the sandbox (forensics.after).'),
    pruned: z.array(z.string()).describe('Older bundles removed by retention.'),
  })
  .describe('A signed forensic bundle was written; `airlock forensics verify PATH` checks it.');
