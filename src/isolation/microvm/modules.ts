/**
 * Which kernel modules the guest loads, and in which order: each module's dependencies (its
 * `depends=` field in the .modinfo section, what depmod reads) before it. The package ships no
 * modules.dep (depmod makes it at install), so it is read from the modules themselves.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { ControlError } from '../../host/control-error.ts';

/** One module to load. */
export interface ModuleFile {
  name: string;
  path: string;
}

/** Every `<name>.ko` under `root`, by name (`-` and `_` are the same to the kernel: normalised to `_`). */
function moduleFiles(root: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.ko')) found.set(entry.name.slice(0, -3).replaceAll('-', '_'), `${entry.parentPath}/${entry.name}`);
  }
  return found;
}

/** The `depends=` list of a module file. */
export function moduleDepends(bytes: Buffer): string[] {
  const at = bytes.indexOf('\0depends=');
  if (at < 0) return [];
  const end = bytes.indexOf(0, at + 1);
  const text = bytes.subarray(at + 9, end).toString('utf8');
  return text === '' ? [] : text.split(',').map((n) => n.replaceAll('-', '_'));
}

/** `wanted` and their dependencies, each after what it depends on. Throws naming a missing module. */
export function loadOrder(root: string, wanted: readonly string[]): ModuleFile[] {
  const files = moduleFiles(root);
  const order: ModuleFile[] = [];
  const done = new Set<string>();
  const visit = (name: string, chain: string[]) => {
    if (done.has(name)) return;
    if (chain.includes(name)) throw new ControlError('microvm', `kernel modules depend on each other in a cycle: ${[...chain, name].join(' -> ')}`);
    const path = files.get(name);
    if (path === undefined) throw new ControlError('microvm', `the guest kernel has no module ${name} (built in? then drop it from the list)`);
    for (const dep of moduleDepends(readFileSync(path))) visit(dep, [...chain, name]);
    done.add(name);
    order.push({ name, path });
  };
  for (const name of wanted) visit(name, []);
  return order;
}
