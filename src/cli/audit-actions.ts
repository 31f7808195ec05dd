/** What the `audit` and `receipt` commands do; loaded only when one of them runs. */
import { readFile } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import { loadConfig } from '../config/config.ts';
import { controllerKeyPath, controllerPublicKeyPath } from '../audit/controller-key.ts';
import { openAuditStore } from '../audit/open.ts';
import { AuditLog, type ReadRecord } from '../audit/log.ts';
import { verifyReceipt } from '../audit/receipt.ts';
import { checkTreeHead, type SignedTreeHead } from '../audit/tree-head.ts';
import { verifyLog } from '../audit/verify-log.ts';
import { loadPublicKeyFile } from '../signing/key-files.ts';
import { openStore, storePath } from '../store/index.ts';
import { terminalSafe, terminalSafeJson, terminalSafeJsonLine } from './terminal-text.ts';
import { UsageError } from './usage-error.ts';

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new UsageError(`${what} ${path} is not JSON: ${(err as Error).message}`, { cause: err });
  }
}

async function publicKey(path: string): Promise<KeyObject> {
  try {
    return await loadPublicKeyFile(path);
  } catch (err) {
    throw new UsageError(`--key: ${(err as Error).message}`, { cause: err });
  }
}

/** `audit verify`. */
export async function verifyAuditCommand(configPath: string | undefined, opts: { fromHead?: string | undefined; key?: string | undefined; json: boolean }): Promise<void> {
  const config = loadConfig(configPath);
  const key = await publicKey(opts.key ?? controllerPublicKeyPath(controllerKeyPath(config, storePath(config))));
  const extra: SignedTreeHead[] = [];
  if (opts.fromHead !== undefined) {
    try {
      extra.push(checkTreeHead(await readJson(opts.fromHead, 'tree head')));
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new UsageError(`--from-head ${opts.fromHead}: ${(err as Error).message}`, { cause: err });
    }
  }
  const store = await openStore(config);
  const audit = await openAuditStore(config, store.audit).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  try {
    const heads = [...(await audit.store.heads()), ...extra];
    const result = await verifyLog((from, limit) => audit.store.rows(from, limit), heads, key);
    if (opts.json) process.stdout.write(`${terminalSafeJson(result)}\n`);
    else if (result.ok) process.stdout.write(`OK: ${result.size} records, root ${result.root_hash}, ${result.heads_checked} signed heads checked\n`);
    else process.stdout.write(`${terminalSafe(`FAILED at index ${result.index}: ${result.problem}: ${result.message}`)}\n`);
    if (!result.ok) process.exitCode = 1;
  } finally {
    await audit.close();
    await store.close();
  }
}

function line(r: ReadRecord): string {
  const { record } = r;
  const who = record.actor === null ? '-' : record.actor.name;
  const data = JSON.stringify(record.data);
  return terminalSafe(`#${r.index} ${record.time} ${record.kind} agent=${record.agent_id ?? '-'} sandbox=${record.sandbox_id ?? '-'} by=${who} ${data.length > 400 ? `${data.slice(0, 400)}…` : data}`);
}

/** `audit tail`. */
export async function tailAuditCommand(configPath: string | undefined, opts: { follow: boolean; sandbox?: string | undefined; agent?: string | undefined; lines: number; json: boolean }): Promise<void> {
  const config = loadConfig(configPath);
  const store = await openStore(config);
  const audit = await openAuditStore(config, store.audit).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  const log = new AuditLog({ store: audit.store });
  const filter = { agentId: opts.agent, sandboxId: opts.sandbox };
  const print = (r: ReadRecord) => process.stdout.write(opts.json ? `${terminalSafeJsonLine(r.record)}\n` : `${line(r)}\n`);
  try {
    // The last `lines` matching records: one pass, keeping the newest.
    let last: ReadRecord[] = [];
    let after = -1;
    for (;;) {
      const page = await log.query({ ...filter, afterIndex: after, limit: 1000 });
      last = opts.lines === 0 ? [] : [...last, ...page].slice(-opts.lines);
      if (page.length > 0) after = (page[page.length - 1] as ReadRecord).index;
      if (page.length < 1000) break;
    }
    for (const r of last) print(r);
    if (!opts.follow) return;
    let stop = false;
    const onSignal = () => {
      stop = true;
    };
    process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
    while (!stop) {
      const page = await log.query({ ...filter, afterIndex: after, limit: 1000 });
      for (const r of page) print(r);
      if (page.length > 0) after = (page[page.length - 1] as ReadRecord).index;
      // Why polling: the writer is another process (the controller); SQLite has no cross-process notification.
      if (page.length < 1000) await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await audit.close();
    await store.close();
  }
}

/** `receipt verify`. */
export async function verifyReceiptCommand(file: string, opts: { key: string; json: boolean }): Promise<void> {
  const key = await publicKey(opts.key);
  const value = (await readJson(file, 'receipt')) as { receipt?: unknown } | null;
  // A whole result or sandbox as the API returned it carries its receipt: take that.
  const receipt = value !== null && typeof value === 'object' && 'receipt' in value && !('type' in value) ? value.receipt : value;
  const result = verifyReceipt(receipt, key);
  if (opts.json) {
    process.stdout.write(`${terminalSafeJson(result)}\n`);
  } else if (result.ok) {
    const r = receipt as { record: { kind: string; time: string }; tree_head: SignedTreeHead };
    process.stdout.write(`${terminalSafe(`OK: record ${result.index} (${r.record.kind}, ${r.record.time}) is in the log of ${result.tree_size} records signed at ${r.tree_head.timestamp} by controller key ${r.tree_head.key_id}`)}\n`);
  } else {
    process.stdout.write(`${terminalSafe(`INVALID: ${result.reason}`)}\n`);
  }
  if (!result.ok) process.exitCode = 1;
}
