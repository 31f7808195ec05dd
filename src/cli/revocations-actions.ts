/** What the revocation commands do, on the SDK; loaded only when one runs. Each returns the exit code. */
import { readFile } from 'node:fs/promises';
import { exportRevocations, importRevocations, listRevocations, revokeAgent, unrevokeAgent } from '../../sdk/revocations.ts';
import { withServerClient, type ServerOptions } from './server-connection.ts';
import { formatTable } from './table.ts';
import { terminalSafe, terminalSafeJson } from './terminal-text.ts';
import { UsageError } from './usage-error.ts';

/** Options shared by the revocation commands. */
export interface RevocationCliOptions extends ServerOptions {
  json?: boolean;
}

const AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

function agentArgument(agent: string): string {
  // Why checked here too: a clear exit 2 before any connection, not a server's 400.
  if (!AGENT_ID.test(agent)) throw new UsageError(`<agent>: "${agent}" is not an agent id (1-128 of A-Z a-z 0-9 . _ @ -, starting with a letter or digit)`);
  return agent;
}

/** `revoke AGENT --reason …`. */
export function revokeAction(agent: string, opts: RevocationCliOptions & { reason: string }): Promise<number> {
  const agentId = agentArgument(agent);
  if (opts.reason.trim() === '') throw new UsageError('--reason: give a reason');
  return withServerClient(opts, async (client) => {
    const result = await revokeAgent(client, agentId, opts.reason);
    if (opts.json === true) process.stdout.write(`${terminalSafeJson(result)}\n`);
    else {
      const what = result.created ? 'revoked' : 'already revoked';
      process.stdout.write(`${terminalSafe(`${agentId} ${what}; ended ${result.sandboxes_ended.length} sandbox(es) and ${result.executions_ended.length} execution(s)`)}\n`);
    }
    return 0;
  });
}

/** `unrevoke AGENT`. */
export function unrevokeAction(agent: string, opts: RevocationCliOptions): Promise<number> {
  const agentId = agentArgument(agent);
  return withServerClient(opts, async (client) => {
    const result = await unrevokeAgent(client, agentId);
    process.stdout.write(opts.json === true ? `${terminalSafeJson(result)}\n` : `${terminalSafe(agentId)} unrevoked\n`);
    return 0;
  });
}

/** `revocations ls`. */
export function listAction(opts: RevocationCliOptions): Promise<number> {
  return withServerClient(opts, async (client) => {
    const list = await listRevocations(client);
    if (opts.json === true) process.stdout.write(`${terminalSafeJson(list)}\n`);
    else process.stdout.write(formatTable([['AGENT', 'REVOKED AT', 'BY', 'SOURCE', 'REASON'], ...list.map((r) => [r.agent_id, r.revoked_at, r.revoked_by, r.source, r.reason])]));
    return 0;
  });
}

/** `revocations export`: the signed list, as JSON on stdout. */
export function exportAction(opts: RevocationCliOptions): Promise<number> {
  return withServerClient(opts, async (client) => {
    process.stdout.write(`${JSON.stringify(await exportRevocations(client), null, 2)}\n`);
    return 0;
  });
}

async function readList(file: string): Promise<unknown> {
  let text: string;
  try {
    text = file === '-' ? await new Response(process.stdin as unknown as ReadableStream).text() : await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`<file>: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`<file>: not JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** `revocations import FILE`. */
export async function importAction(file: string, opts: RevocationCliOptions): Promise<number> {
  const list = await readList(file);
  return withServerClient(opts, async (client) => {
    const result = await importRevocations(client, list);
    if (opts.json === true) process.stdout.write(`${terminalSafeJson(result)}\n`);
    else process.stdout.write(`${terminalSafe(`applied list ${result.sequence} of ${result.issuer}: ${result.added.length} revoked, ${result.removed.length} lifted`)}\n`);
    return 0;
  });
}
