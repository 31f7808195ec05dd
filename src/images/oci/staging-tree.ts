/**
 * What the import itself has created under the staging root, kept in memory. Extraction decides
 * every path from this record, never from the file system: a parent is used only when the import
 * made it as a real directory, so a symlink an earlier entry planted is never followed (tar-slip).
 */
import { join } from 'node:path';
import { ImportError } from './import-error.ts';

/** Kinds of entries the staging tree holds (device nodes, fifos and sockets are never created). */
export type NodeKind = 'dir' | 'file' | 'symlink';

/** One created entry; `layer` is the last layer that wrote or passed through it. */
export interface StagedNode {
  kind: NodeKind;
  layer: number;
  children?: Map<string, StagedNode>;
}

/** The staging root on disk and the record of what is under it. */
export class StagingTree {
  readonly root: string;
  readonly top: StagedNode = { kind: 'dir', layer: -1, children: new Map() };

  constructor(root: string) {
    this.root = root;
  }

  /** Host path of `parts` under the staging root. */
  pathOf(parts: readonly string[]): string {
    return parts.length === 0 ? this.root : join(this.root, ...parts);
  }

  /** The node at `parts`, reached only through real directories; undefined when absent. */
  find(parts: readonly string[]): StagedNode | undefined {
    let node: StagedNode | undefined = this.top;
    for (const part of parts) {
      if (node?.kind !== 'dir') return undefined;
      node = node.children?.get(part);
    }
    return node;
  }

  /**
   * The directory node at `parts`, which must already exist as a real directory; marks each
   * directory on the way as touched by `layer`. Refuses a path through a symlink or a file.
   */
  dirAt(parts: readonly string[], layer: number, entryName: string): StagedNode | undefined {
    let node = this.top;
    for (let i = 0; i < parts.length; i++) {
      const child = node.children?.get(parts[i] ?? '');
      if (child === undefined) return undefined;
      // Why: writing below a symlink would follow it to wherever it points (on the host, as root).
      if (child.kind === 'symlink') throw new ImportError(`entry ${JSON.stringify(entryName)}: parent /${parts.slice(0, i + 1).join('/')} is a symlink`);
      if (child.kind !== 'dir') throw new ImportError(`entry ${JSON.stringify(entryName)}: parent /${parts.slice(0, i + 1).join('/')} is not a directory`);
      child.layer = Math.max(child.layer, layer);
      node = child;
    }
    return node;
  }

  /** Records a new node under its (existing) parent. */
  add(parent: StagedNode, name: string, kind: NodeKind, layer: number): StagedNode {
    const node: StagedNode = kind === 'dir' ? { kind, layer, children: new Map() } : { kind, layer };
    parent.children?.set(name, node);
    return node;
  }

  /** Forgets `name` under `parent` (the caller removes it from disk). */
  remove(parent: StagedNode, name: string): void {
    parent.children?.delete(name);
  }
}
