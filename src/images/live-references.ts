/**
 * What live sandboxes hold: every mount table on the host (one per mount namespace) is read, and
 * a stored directory that appears in any of them is in use. This needs no record kept by the
 * sandbox that started it: a bwrap sandbox, a runsc gofer, another controller's sandbox and a
 * warm pool all show their root filesystem and bound helpers in their mount namespace.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';

/** The text of every distinct mount namespace's mountinfo (processes that vanish meanwhile are skipped). */
export async function hostMountTables(proc = '/proc'): Promise<string[]> {
  const pids = (await readdir(proc)).filter((n) => /^[0-9]+$/.test(n));
  const seen = new Set<string>();
  const tables: string[] = [];
  // A few at a time: hundreds of processes, and the answer must be complete, not fast.
  for (let i = 0; i < pids.length; i += 32) {
    await Promise.all(
      pids.slice(i, i + 32).map(async (pid) => {
        const ns = await readlink(`${proc}/${pid}/ns/mnt`).catch(() => undefined);
        if (ns === undefined || seen.has(ns)) return;
        seen.add(ns);
        const table = await readFile(`${proc}/${pid}/mountinfo`, 'utf8').catch(() => undefined);
        if (table !== undefined) tables.push(table);
      }),
    );
  }
  return tables;
}

/**
 * The subset of `keys` (64-hex digests or build keys) that some mount on the host names as a
 * path component, i.e. that a live sandbox has mounted.
 */
export function keysInUse(tables: readonly string[], keys: Iterable<string>): Set<string> {
  const used = new Set<string>();
  const wanted = new Set(keys);
  for (const table of tables) {
    for (const m of table.matchAll(/\/([0-9a-f]{64})(?=[/\s])/g)) {
      const key = m[1];
      if (key !== undefined && wanted.has(key)) used.add(key);
    }
  }
  return used;
}
