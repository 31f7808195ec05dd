/**
 * Which namespace each id the host has assigned names, for routing `ip monitor all-nsid` events to
 * the one sandbox living there: `ip -j netns list-id` gives id → name, and the name's bind mount
 * under /run/netns gives the namespace inode (what a sandbox's /proc/<pid>/ns/net shows).
 */
import { statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { runTool } from '../host-tools.ts';
import { NETNS_DIR } from '../slot-network.ts';

/** id → namespace inode for every id with a name; ids without one (or a name gone since) are absent. */
export async function namespaceIds(ip: string, timeoutMs: number, signal: AbortSignal): Promise<Map<number, number>> {
  const text = await runTool(ip, ['-j', 'netns', 'list-id'], { timeoutMs, signal });
  const listed = text.trim() === '' ? [] : (JSON.parse(text) as { nsid?: unknown; name?: unknown }[]);
  const nsfs = statSync('/proc/self/ns/net').dev;
  const ids = new Map<number, number>();
  await Promise.all(
    listed.map(async ({ nsid, name }) => {
      // A name with a slash could point outside the netns directory: not resolved (its id stays unknown).
      if (typeof nsid !== 'number' || typeof name !== 'string' || name.includes('/') || name === '..') return;
      // Only a namespace's own inode (nsfs): a leftover plain file under the name identifies nothing.
      const inode = await stat(`${NETNS_DIR}/${name}`).then((s) => (s.dev === nsfs ? s.ino : undefined), () => undefined);
      if (inode !== undefined) ids.set(nsid, inode);
    }),
  );
  return ids;
}

/** Inode of the network namespace `pid` lives in; undefined when it can't be read (the process is gone). */
export function namespaceInode(pid: number): number | undefined {
  try {
    return statSync(`/proc/${pid}/ns/net`).ino;
  } catch {
    return undefined;
  }
}
