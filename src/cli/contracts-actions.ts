/** What the `contracts` commands do; loaded only when one of them runs. */
import { readFile } from 'node:fs/promises';
import { loadConfig } from '../config/config.ts';
import { AuditLog } from '../audit/log.ts';
import type { AuditEvent, AuditRecord } from '../audit/record.ts';
import { openAuditStore } from '../audit/open.ts';
import { parseContract } from '../contracts/schema.ts';
import { suggestContract } from '../contracts/suggest.ts';
import { openStore, type ControlStore } from '../store/index.ts';
import { terminalSafe } from './terminal-text.ts';
import { UsageError } from './usage-error.ts';

const AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;
/** Records read per page for `suggest`. */
const PAGE = 1000;

function agentArgument(agent: string): string {
  if (!AGENT_ID.test(agent)) throw new UsageError(`<agent>: "${agent}" is not an agent id (1-128 of A-Z a-z 0-9 . _ @ -, starting with a letter or digit)`);
  return agent;
}

function localOperator() {
  return { name: `uid:${process.getuid?.() ?? -1}`, role: 'operator', agent_id: 'local' };
}

async function withStore<T>(configPath: string | undefined, work: (store: ControlStore, config: ReturnType<typeof loadConfig>) => Promise<T>): Promise<T> {
  const config = loadConfig(configPath);
  const store = await openStore(config);
  try {
    return await work(store, config);
  } finally {
    await store.close();
  }
}

async function record(store: ControlStore, event: Omit<AuditEvent, 'actor'>): Promise<void> {
  try {
    await new AuditLog({ store: store.audit }).append({ ...event, actor: localOperator() });
  } catch (err) {
    process.exitCode = 1;
    process.stderr.write(`${terminalSafe(`the change was made but could not be recorded in the audit log: ${(err as Error).message}`)}\n`);
  }
}

async function readContractFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = file === '-' ? await new Response(process.stdin as unknown as ReadableStream).text() : await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`<file>: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}: ${file}`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`<file>: not JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** `contracts set AGENT FILE`. */
export async function setContract(configPath: string | undefined, agent: string, file: string): Promise<void> {
  const agentId = agentArgument(agent);
  let contract;
  try {
    contract = parseContract(await readContractFile(file));
  } catch (err) {
    if (err instanceof UsageError) throw err;
    // Why exit 2 naming each problem: a contract that doesn't validate is the caller's input, and nothing was stored.
    throw new UsageError((err as Error).message, { cause: err });
  }
  await withStore(configPath, async (store) => {
    await store.contracts.set({ agentId, contract, updatedAtMs: Date.now(), updatedBy: localOperator().name });
    await record(store, { kind: 'contract.set', agentId, data: { contract } });
  });
  process.stdout.write(`${terminalSafe(`contract of ${agentId} set`)}\n`);
}

/** `contracts show AGENT`. */
export async function showContract(configPath: string | undefined, agent: string): Promise<void> {
  const agentId = agentArgument(agent);
  const stored = await withStore(configPath, (store) => store.contracts.get(agentId));
  if (stored === undefined) throw new UsageError(`agent ${agentId} has no contract`);
  process.stdout.write(`${JSON.stringify(stored.contract, null, 2)}\n`);
}

/** `contracts rm AGENT`. */
export async function removeContract(configPath: string | undefined, agent: string): Promise<void> {
  const agentId = agentArgument(agent);
  const removed = await withStore(configPath, async (store) => {
    const done = await store.contracts.remove(agentId);
    if (done) await record(store, { kind: 'contract.removed', agentId, data: {} });
    return done;
  });
  if (!removed) throw new UsageError(`agent ${agentId} has no contract`);
  process.stdout.write(`${terminalSafe(`contract of ${agentId} removed`)}\n`);
}

/** `contracts suggest AGENT`: the proposal on stdout (JSON, ready for `contracts set`), the evidence on stderr. */
export async function suggest(configPath: string | undefined, agent: string): Promise<void> {
  const agentId = agentArgument(agent);
  const records = await withStore(configPath, async (store, config) => {
    const audit = await openAuditStore(config, store.audit);
    try {
      const log = new AuditLog({ store: audit.store });
      const all: AuditRecord[] = [];
      for (let after: number | undefined; ; ) {
        const page = await log.query({ agentId, afterIndex: after, limit: PAGE });
        all.push(...page.map((r) => r.record));
        if (page.length < PAGE) break;
        after = page[page.length - 1]?.index;
      }
      return all;
    } finally {
      await audit.close();
    }
  });
  const { contract, evidence } = suggestContract(records);
  if (evidence.sandboxes + evidence.executions === 0) throw new UsageError(`agent ${agentId} has no recorded sandboxes to suggest from`);
  process.stderr.write(`${terminalSafe(`from ${evidence.sandboxes} sandbox(es), ${evidence.executions} one-shot(s) and ${evidence.egress} allowed egress record(s) of ${agentId}`)}\n`);
  process.stdout.write(`${JSON.stringify({ $schema: 'https://airlock.dev/schemas/contract.schema.json', ...contract }, null, 2)}\n`);
}
