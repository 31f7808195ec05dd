/** Every network slot piece on the host, one line each: namespaces, host links, nft tables, leases. */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

export function networkPieces(): string[] {
  const list = (dir: string, prefix: string, kind: string) => (existsSync(dir) ? readdirSync(dir) : []).filter((n) => n.startsWith(prefix)).map((n) => `${kind} ${n}`);
  const tables = execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith('table inet airlock-n'));
  return [...list('/run/netns', 'airlock-n', 'netns'), ...list('/sys/class/net', 'al-n', 'link'), ...tables, ...list('/run/airlock-net', '', 'slot lease')];
}
