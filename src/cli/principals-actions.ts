/** What the `principals` commands do; loaded only when one of them runs. */
import { readFile } from 'node:fs/promises';
import { loadConfig } from '../config/config.ts';
import { isInputRefusal, openStore, type ControlStore, type Principal } from '../store/index.ts';
import type { AddPrincipalOptions } from './principals.ts';
import { formatTable } from './table.ts';
import { terminalSafe, terminalSafeJson } from './terminal-text.ts';
import { UsageError } from './usage-error.ts';

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
  const added = await withStore(configPath, (store) => store.addPrincipal({ name, role: opts.role as Principal['role'], agentId: opts.agentId, groups: opts.group, publicKeyPem }));
  process.stdout.write(`${terminalSafe(`added ${added.role} ${added.name} with key ${added.keys[0]?.keyId ?? ''}`)}\n`);
}

/** `principals add-key`. */
export async function addKey(configPath: string | undefined, name: string, keyFile: string): Promise<void> {
  const publicKeyPem = await readKeyFile(keyFile);
  const key = await withStore(configPath, (store) => store.addKey(name, publicKeyPem));
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
  const revoked = await withStore(configPath, (store) => store.revokeKey(keyId));
  process.stdout.write(`${terminalSafe(`revoked key ${revoked.keyId} of ${revoked.principal}`)}\n`);
}
