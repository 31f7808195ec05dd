/** Looks up a group's id by name, through NSS (`getent`) so directory-service groups count too. */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { findExecutable } from './which.ts';

/** The gid of group `name`; undefined when the host has no such group. Rejects when it can't tell. */
export async function lookupGroupId(name: string): Promise<number | undefined> {
  const getent = findExecutable('getent');
  const line = getent === undefined ? fromEtcGroup(name) : await fromGetent(getent, name);
  if (line === undefined) return undefined;
  const gid = line.split(':')[2];
  if (gid === undefined || !/^\d{1,10}$/.test(gid)) throw new Error(`group ${name}: unreadable entry ${JSON.stringify(line)}`);
  return Number(gid);
}

function fromGetent(getent: string, name: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    execFile(getent, ['group', '--', name], { timeout: 10_000, env: { PATH: '/usr/bin:/bin', LANG: 'C' } }, (err, stdout) => {
      // getent exits 2 when the key is not found.
      if (err !== null) return (err as { code?: unknown }).code === 2 ? resolve(undefined) : reject(new Error(`getent group ${name}: ${err.message}`));
      resolve(String(stdout).split('\n').find((l) => l.startsWith(`${name}:`)));
    });
  });
}

function fromEtcGroup(name: string): string | undefined {
  return readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
}
