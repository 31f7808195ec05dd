/**
 * Read-only root, controller side (T19 with T12's premise): running a sandbox never changes the
 * content-addressed image tree on the host, whatever the runtime mounts over it and whatever the
 * request grants. A changed tree no longer matches its digest, and a runtime that creates mount
 * points in it does so as host root, following whatever the tree holds.
 */
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Image } from '../../src/images/image.ts';
import { resolveImage } from '../../src/images/store.ts';
import { makeFakeStore, type FakeStore } from './lib/fake-store.ts';
import { RUNTIMES, runInSandbox, runOrRefusal } from './lib/runtime.ts';
import { runtimeCase, useSuite } from './lib/suite.ts';

const suite = useSuite();

/** Every entry below `root` as `path type mode uid:gid size`, sorted; never follows a symlink. */
async function snapshot(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const st = await lstat(join(root, rel));
    const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other';
    out.push(`${rel || '.'} ${type} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${st.isFile() ? st.size : 0}`);
    if (st.isDirectory()) for (const name of await readdir(join(root, rel))) await walk(rel ? `${rel}/${name}` : name);
  };
  await walk('');
  return out.sort();
}

/** Entries added to or removed from a tree, as `+ entry` / `- entry`. */
function treeDiff(beforeTree: string[], afterTree: string[]): string[] {
  const b = new Set(beforeTree);
  const a = new Set(afterTree);
  return [...afterTree.filter((e) => !b.has(e)).map((e) => `+ ${e}`), ...beforeTree.filter((e) => !a.has(e)).map((e) => `- ${e}`)];
}

describe('image trees stay unchanged by sandbox runs', () => {
  let store: FakeStore;
  before(async () => {
    store = await makeFakeStore();
  });
  after(() => store.cleanup());

  for (const runtime of RUNTIMES) {
    runtimeCase(suite, runtime, `${runtime}: T19 (controller side) a plain run leaves its image tree byte-for-byte as built`, async (t, ready) => {
      const image: Image = await resolveFixture(store, `plain-${runtime}`, join(suite.kit().hostDir, 'probe'));
      const beforeTree = await snapshot(image.rootfs);
      const r = await runInSandbox(ready, suite.config, ['/probe', 'hello'], { image });
      assert.equal(r.termination_reason, 'completed', r.error ?? '');
      assert.equal(r.output, 'hello');
      const diff = treeDiff(beforeTree, await snapshot(image.rootfs));
      t.diagnostic(`changes: ${JSON.stringify(diff)}`);
      assert.deepEqual(diff, [], 'the runtime changed the image tree on the host');
    });

    runtimeCase(suite, runtime, `${runtime}: T19 (controller side) a grant whose mount point the image lacks is refused or made without touching the image`, async (t, ready) => {
      const kit = suite.kit();
      const image: Image = await resolveFixture(store, `grant-${runtime}`, join(kit.hostDir, 'probe'));
      const beforeTree = await snapshot(image.rootfs);
      const r = await runOrRefusal(ready, suite.config, ['/probe', 'hello'], {
        image,
        mounts: [{ hostPath: kit.hostDir, sandboxPath: '/not-in-image', writable: false }],
      });
      // Stream errors of a failed start surface a moment later; let them land inside this case.
      await new Promise((resolve) => setTimeout(resolve, 200));
      if (r instanceof Error) {
        t.diagnostic(`refused: ${r.message.slice(0, 300)}`);
        // A refusal names what was refused (here: the grant's mount point), not a later symptom.
        assert.equal(r.control, 'filesystem_access');
        assert.match(r.message, /not-in-image/, `the refusal does not say why: ${r.message}`);
      } else {
        t.diagnostic(`${r.termination_reason}: ${(r.error ?? r.output).slice(0, 300)}`);
        assert.equal(r.termination_reason, 'completed', `neither refused nor completed: ${r.error ?? ''}`);
        assert.equal(r.output, 'hello', `reported as completed, but the command did not run: ${r.error ?? ''}`);
      }
      const diff = treeDiff(beforeTree, await snapshot(image.rootfs));
      assert.deepEqual(diff, [], 'the runtime created the mount point inside the image tree on the host');
    });
  }
});

/** Adds a fixture image holding the static probe at /probe and resolves it as a user request would. */
async function resolveFixture(store: FakeStore, name: string, probe: string): Promise<Image> {
  await store.add(name, undefined, probe);
  return resolveImage({ stateDir: store.stateDir }, name);
}
