/**
 * The service's concurrency cap is decided before any work: at the cap a one-shot is refused
 * before its image is resolved or its driver is asked for anything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { DEFAULT_CONFIG, type AirlockConfig } from '../config/config.ts';
import type { IsolationDriver, ProcessExit, Sandbox, SandboxSpec } from '../isolation/driver.ts';
import { manifestTree } from '../images/manifest.ts';
import { ensureStore, storePaths } from '../images/paths.ts';
import { commitBlob } from '../images/store.ts';
import { writeTag } from '../images/tags.ts';
import { ServiceError } from './errors.ts';
import { SandboxService } from './service.ts';
import { policyDirOf, readBundleHash } from '../policy/bundle-files.ts';

// The image store must be root-owned, which only root can make.
const skip = process.getuid?.() !== 0 ? 'needs root (the image store must be root-owned)' : false;

/** A state directory holding one tiny image, tagged `tiny`. */
async function tinyStore(): Promise<string> {
  const stateDir = await mkdtemp(join(tmpdir(), 'airlock-cap-'));
  const paths = storePaths({ stateDir });
  await ensureStore(paths);
  const work = await mkdtemp(join(paths.tmp, 'build-'));
  await chmod(work, 0o755);
  const root = join(work, 'rootfs');
  for (const d of ['dev', 'proc', 'sys', 'tmp', 'etc']) await mkdir(join(root, d), { recursive: true, mode: 0o755 });
  const tree = await manifestTree(root);
  await writeFile(join(work, 'manifest.json'), tree.bytes, { mode: 0o644 });
  await commitBlob(paths, work, tree.digest);
  await writeTag(paths, 'tiny', tree.digest);
  return stateDir;
}

/** A driver whose one sandbox runs until `finish` is called; counts what it was asked to create. */
function holdingDriver(): { driver: IsolationDriver; created: SandboxSpec[]; started: Promise<void>; finish: () => void } {
  const created: SandboxSpec[] = [];
  let finish: () => void = () => undefined;
  let markStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const exit = new Promise<ProcessExit>((resolve) => (finish = () => resolve({ code: 0, signal: null })));
  const driver: IsolationDriver = {
    runtime: 'namespace',
    probe: async () => ({ available: true, details: {} }),
    reapStale: async () => [],
    create: async (spec) => {
      created.push(spec);
      const sandbox: Sandbox = {
        id: spec.id,
        runtime: 'namespace',
        start: async () => {
          markStarted();
          const stdout = new PassThrough();
          const stderr = new PassThrough();
          void exit.then(() => (stdout.end(), stderr.end()));
          return { stdout, stderr, stdin: null, exit };
        },
        stats: async () => ({ cpuNanos: 0, memoryPeakBytes: 0, oomKills: 0, pidsLimitHits: 0, scratchFull: false }),
        networkPid: () => undefined,
        stop: async () => finish(),
        destroy: async () => finish(),
      };
      return sandbox;
    },
  };
  return { driver, created, started, finish };
}

test('at the cap a one-shot is refused before its image is resolved or the driver is asked', { skip }, async () => {
  const stateDir = await tinyStore();
  const config: AirlockConfig = { ...DEFAULT_CONFIG, stateDir, defaultImage: 'tiny', service: { ...DEFAULT_CONFIG.service, maxSandboxes: 1, pools: [] } };
  const held = holdingDriver();
  const service = new SandboxService({ config, policyBundleHash: await readBundleHash(policyDirOf(config.policy)), drivers: new Map([['namespace', held.driver]]) });
  try {
    const first = service.execute({ agentId: 'a', runtime: 'namespace', limits: {}, env: {}, mounts: [], command: ['/bin/true'] });
    await held.started;
    // An image that doesn't exist: resolving it would answer image_not_found, not capacity_exceeded.
    await assert.rejects(
      service.execute({ agentId: 'b', runtime: 'namespace', limits: {}, env: {}, mounts: [], command: ['/bin/true'], image: 'no-such-image' }),
      (err: unknown) => err instanceof ServiceError && err.code === 'capacity_exceeded',
    );
    assert.equal(held.created.length, 1, 'the refused request never reached the driver');
    held.finish();
    assert.equal((await first).termination_reason, 'completed');
  } finally {
    held.finish();
    await service.shutdown();
    await rm(stateDir, { recursive: true, force: true });
  }
});
