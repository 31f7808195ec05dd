/** What the `principals` commands do; loaded only when one of them runs. */
import { readFile } from 'node:fs/promises';
import { loadConfig } from '../config/config.ts';
import { isInputRefusal, openStore, type ControlStore, type Principal } from '../store/index.ts';
import type { AddPrincipalOptions } from './principals.ts';
import { formatTable } from './table.ts';
import { terminalSafe, terminalSafeJson } from './terminal-text.ts';
import { UsageError } from './usage-error.ts';
import { AuditLog } from '../audit/log.ts';
import type { AuditEvent } from '../audit/record.ts';

async function withStore<T>(configPath: string | undefined, work: (store: ControlStore) => Promise<T>): Promise<T> {
  const store = await openStore(loadConfig(configPath));
  try {
    return await work(store);
  } catch (err) {
    // Why exit 2: a refused name, key or role is the caller's input; the store changed nothing.
    if (isInputRefusal(err)) throw new UsageError(err.message, { cause: err });
    throw err;
  } finally {
    await store.close();
  }
}

/** The operator running the CLI, as a record names them (the CLI acts on the store directly, as root). */
function localOperator() {
  return { name: `uid:${process.getuid?.() ?? -1}`, role: 'operator', agent_id: 'local' };
}

/**
 * Records an identity change made through the store. Why after, not in one transaction with it: the
 * store's methods own their transactions; a change whose record fails is reported (exit 1), not hidden.
 */
async function recordChange(store: ControlStore, event: Omit<AuditEvent, 'actor'>): Promise<void> {
  try {
    await new AuditLog({ store: store.audit }).append({ ...event, actor: localOperator() });
  } catch (err) {
    process.exitCode = 1;
    process.stderr.write(`${terminalSafe(`the change was made but could not be recorded in the audit log: ${(err as Error).message}`)}
`);
  }
}

async function readKeyFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read key file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

function activeKeys(principal: Principal): number {
  return principal.keys.filter((k) => k.revokedAt === null).length;
}

/** `principals add`. */
export async function addPrincipal(configPath: string | undefined, name: string, opts: AddPrincipalOptions): Promise<void> {
  const publicKeyPem = await readKeyFile(opts.key);
  const added = await withStore(configPath, async (store) => {
    const principal = await store.addPrincipal({ name, role: opts.role as Principal['role'], agentId: opts.agentId, groups: opts.group, publicKeyPem });
    await recordChange(store, { kind: 'principal.added', agentId: principal.agentId, data: { name: principal.name, role: principal.role, agent_id: principal.agentId, groups: [...principal.groups], key_id: principal.keys[0]?.keyId ?? null } });
    return principal;
  });
  process.stdout.write(`${terminalSafe(`added ${added.role} ${added.name} with key ${added.keys[0]?.keyId ?? ''}`)}\n`);
}

/** `principals add-key`. */
export async function addKey(configPath: string | undefined, name: string, keyFile: string): Promise<void> {
  const publicKeyPem = await readKeyFile(keyFile);
  const key = await withStore(configPath, async (store) => {
    const added = await store.addKey(name, publicKeyPem);
    await recordChange(store, { kind: 'key.added', agentId: (await store.getPrincipal(name))?.agentId ?? null, data: { principal: name, key_id: added.keyId } });
    return added;
  });
  process.stdout.write(`${terminalSafe(`added key ${key.keyId} to ${name}`)}\n`);
}

/** `principals ls`. */
export async function listPrincipals(configPath: string | undefined, json: boolean): Promise<void> {
  const principals = await withStore(configPath, (store) => store.listPrincipals());
  if (json) {
    process.stdout.write(`${terminalSafeJson(principals)}\n`);
    return;
  }
  if (principals.length === 0) {
    process.stderr.write('no principals\n');
    return;
  }
  const rows = principals.map((p) => [p.name, p.role, p.agentId, p.groups.join(',') || '-', `${activeKeys(p)}/${p.keys.length}`]);
  process.stdout.write(formatTable([['NAME', 'ROLE', 'AGENT ID', 'GROUPS', 'ACTIVE KEYS'], ...rows]));
}

/** `principals show`. */
export async function showPrincipal(configPath: string | undefined, name: string, json: boolean): Promise<void> {
  const principal = await withStore(configPath, (store) => store.getPrincipal(name));
  if (principal === undefined) throw new UsageError(`no principal named ${name}`);
  if (json) {
    process.stdout.write(`${terminalSafeJson(principal)}\n`);
    return;
  }
  const fields = [
    ['name', principal.name],
    ['role', principal.role],
    ['agent id', principal.agentId],
    ['groups', principal.groups.join(', ') || '-'],
    ['created', principal.createdAt],
  ];
  process.stdout.write(formatTable(fields.map(([k, v]) => [`${k}:`, v ?? ''])));
  process.stdout.write('\n');
  const keys = principal.keys.map((k) => [k.keyId, k.addedAt, k.revokedAt === null ? 'active' : `revoked ${k.revokedAt}`]);
  process.stdout.write(formatTable([['KEY ID', 'ADDED', 'STATE'], ...keys]));
}

/** `principals revoke-key`. */
export async function revokeKey(configPath: string | undefined, keyId: string): Promise<void> {
  const revoked = await withStore(configPath, async (store) => {
    const key = await store.revokeKey(keyId);
    await recordChange(store, { kind: 'key.revoked', agentId: (await store.getPrincipal(key.principal))?.agentId ?? null, data: { principal: key.principal, key_id: key.keyId, revoked_at: key.revokedAt } });
    return key;
  });
  process.stdout.write(`${terminalSafe(`revoked key ${revoked.keyId} of ${revoked.principal}`)}\n`);
}
