/**
 * Runs real gVisor sandboxes on the host's runsc and default image. Skipped, with the reason, when
 * this host can't (not root, no runsc, no image); never passes without running.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { configSchema } from '../../config/config.ts';
import { resolveImage } from '../../images/store.ts';
import type { Image } from '../../images/image.ts';
import type { Limits, Sandbox } from '../driver.ts';
import { findExecutable } from '../../host/which.ts';
import { parseMountInfo, removeEmptyParent } from '../cgroups/index.ts';
import { GvisorDriver } from './driver.ts';

const runDir = mkdtempSync('/tmp/airlock-gvisor-test-');
const config = configSchema.parse({ runDir, cgroupParent: 'airlock-gvisor-test' });
const driver = new GvisorDriver({ config });
const LIMITS: Limits = { memoryMb: 256, cpuCores: 1, pids: 64, timeoutSeconds: 30, scratchMb: 8, outputBytes: 1 << 20, openFiles: 256 };

async function skipReason(): Promise<[string | false, Image | undefined]> {
  if (process.getuid?.() !== 0) return ['runsc needs root', undefined];
  if (findExecutable('runsc') === undefined) return ['runsc is not installed (apt-get install runsc)', undefined];
  let image: Image;
  try {
    image = await resolveImage(config, config.defaultImage);
  } catch (err) {
    return [`no usable image "${config.defaultImage}" (airlock image build): ${(err as Error).message}`, undefined];
  }
  return [false, image];
}
const [skip, image] = await skipReason();

after(() => {
  rmSync(runDir, { recursive: true, force: true });
  // The shared parent cgroups this test created (each sandbox removes its own).
  removeEmptyParent(config.cgroupParent);
});

let seq = 0;
async function create(overrides: Partial<Limits> = {}): Promise<Sandbox> {
  const id = `t-${process.pid}-${seq++}`;
  return driver.create({ id, image: image as Image, limits: { ...LIMITS, ...overrides }, env: { PATH: '/usr/bin:/bin' }, mounts: [], workdir: '/tmp', network: { kind: 'isolated' } });
}

function collect(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
    stream.on('end', () => resolve(text));
  });
}

/** Everything of sandbox `id` that could outlive it on the host; empty when it is fully gone. */
function leftovers(id: string): string[] {
  const found: string[] = [];
  const base = `${runDir}/gvisor`;
  if (existsSync(`${base}/${id}`)) found.push(`bundle ${base}/${id}`);
  for (const name of existsSync(`${base}/state`) ? readdirSync(`${base}/state`) : []) if (name.startsWith(id)) found.push(`state ${name}`);
  const mountInfo = parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'));
  for (const m of mountInfo) {
    if (m.mountPoint.includes(id)) found.push(`mount ${m.mountPoint}`);
    if ((m.fsType === 'cgroup' || m.fsType === 'cgroup2') && existsSync(`${m.mountPoint}/${config.cgroupParent}/${id}`)) {
      found.push(`cgroup ${m.mountPoint}/${config.cgroupParent}/${id}`);
    }
  }
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.includes('runsc') && cmdline.includes(id)) found.push(`process ${pid}`);
    } catch {
      // Exited meanwhile.
    }
  }
  return found;
}

describe('GvisorDriver on this host', { skip }, () => {
  it('probes runsc by booting a sandbox', async () => {
    const availability = await driver.probe();
    assert.equal(availability.available, true, availability.reason);
    assert.match(availability.details['runsc'] ?? '', /runsc version/);
  });

  it("runs sh -c 'echo hi; exit 3' and leaves nothing behind", async () => {
    const sandbox = await create();
    const proc = await sandbox.start({ argv: ['/bin/sh', '-c', 'echo hi; exit 3'], stdin: false });
    const [out, err, exit] = await Promise.all([collect(proc.stdout), collect(proc.stderr), proc.exit]);
    assert.equal(out, 'hi\n', err);
    assert.deepEqual(exit, { code: 3, signal: null });
    const stats = await sandbox.stats();
    assert.ok(stats.cpuNanos > 0 && stats.memoryPeakBytes > 0, JSON.stringify(stats));
    await sandbox.destroy();
    await sandbox.destroy();
    assert.deepEqual(leftovers(sandbox.id), []);
  });

  it('feeds stdin and runs as uid 65534 with no capabilities and the seccomp filter', async () => {
    const sandbox = await create();
    try {
      const script = 'read line; echo "$line"; id -u; grep -E "^(CapEff|Seccomp):" /proc/self/status';
      const proc = await sandbox.start({ argv: ['/bin/sh', '-c', script], stdin: true });
      proc.stdin?.end('from stdin\n');
      const [out, , exit] = await Promise.all([collect(proc.stdout), collect(proc.stderr), proc.exit]);
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.match(out, /^from stdin\n65534\nCapEff:\s+0+\nSeccomp:\s+2\n$/);
    } finally {
      await sandbox.destroy();
    }
  });

  it('create then destroy without start leaves nothing', async () => {
    const sandbox = await create();
    await sandbox.destroy();
    assert.deepEqual(leftovers(sandbox.id), []);
  });

  it('a refused create leaves nothing', async () => {
    const id = `t-${process.pid}-${seq++}`;
    const base = { id, image: image as Image, limits: LIMITS, env: {}, network: { kind: 'isolated' as const } };
    // /bin is a symlink in Debian images: a mount point below it could be redirected.
    await assert.rejects(driver.create({ ...base, mounts: [], workdir: '/bin/x' }), /symlink/);
    assert.deepEqual(leftovers(id), []);
    await assert.rejects(driver.create({ ...base, mounts: [{ hostPath: '/etc', sandboxPath: '/etc2', writable: false }], workdir: '/tmp' }), /may not be granted/);
    assert.deepEqual(leftovers(id), []);
  });

  it('stop() during boot aborts start() and destroy leaves nothing', async () => {
    const sandbox = await create();
    const starting = sandbox.start({ argv: ['/bin/sleep', '60'], stdin: false });
    // Handled now: start() rejects as soon as stop() lands, possibly before the line below awaits it.
    starting.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 30));
    await sandbox.stop();
    await starting.then((proc) => proc.exit).catch(() => undefined);
    await sandbox.destroy();
    assert.deepEqual(leftovers(sandbox.id), []);
  });

  it('stop() kills a running sandbox at once, reported as SIGKILL', async () => {
    const sandbox = await create();
    const proc = await sandbox.start({ argv: ['/bin/sleep', '60'], stdin: false });
    proc.stdout.resume();
    proc.stderr.resume();
    const started = Date.now();
    await sandbox.stop();
    assert.deepEqual(await proc.exit, { code: null, signal: 'SIGKILL' });
    assert.ok(Date.now() - started < 2000);
    await sandbox.stop();
    await sandbox.destroy();
    assert.deepEqual(leftovers(sandbox.id), []);
  });

  it('destroy() right after stats() leaves nothing behind', async () => {
    const sandbox = await create();
    const proc = await sandbox.start({ argv: ['/bin/sleep', '60'], stdin: false });
    proc.stdout.resume();
    proc.stderr.resume();
    // stats() reads the host cgroup, the scratch and the refused-fork count; none of it may linger.
    await sandbox.stats();
    await sandbox.destroy();
    await proc.exit;
    assert.deepEqual(leftovers(sandbox.id), []);
  });

  it('OOM-kills a memory balloon inside its cgroup and counts it', async () => {
    const sandbox = await create({ memoryMb: 128 });
    try {
      const proc = await sandbox.start({ argv: ['python3', '-c', 'x = [bytearray(8 << 20) for _ in range(64)]'], stdin: false });
      proc.stdout.resume();
      proc.stderr.resume();
      assert.deepEqual(await proc.exit, { code: null, signal: 'SIGKILL' });
      const stats = await sandbox.stats();
      assert.ok(stats.oomKills > 0, JSON.stringify(stats));
      // The kernel may charge a few pages past the limit before it reclaims or kills.
      assert.ok(stats.memoryPeakBytes <= (128 + 1) * 1024 * 1024, JSON.stringify(stats));
    } finally {
      await sandbox.destroy();
    }
    assert.deepEqual(leftovers(sandbox.id), []);
  });

  it('refuses forks at the guest task limit and reports every hit, even of a bomb that ended on its own', async () => {
    const sandbox = await create({ pids: 12 });
    try {
      // The children exit at once and so does the bomb: nothing is left at the limit to be sampled.
      const bomb = 'import os\nn = 0\ntry:\n  while True:\n    if os.fork() == 0:\n      os._exit(0)\n    n += 1\nexcept OSError as e:\n  print("refused", e.errno, flush=True)';
      const proc = await sandbox.start({ argv: ['python3', '-c', 'import os, time\nfor _ in range(10):\n  if os.fork() == 0:\n    time.sleep(2); os._exit(0)\n' + bomb], stdin: false });
      const [out, err, exit] = await Promise.all([collect(proc.stdout), collect(proc.stderr), proc.exit]);
      assert.match(out, /^refused 11\n/, err);
      assert.deepEqual(exit, { code: 0, signal: null });
      // Read after the sandbox ended, never polled while it ran: the count comes from the kernel's trace.
      const stats = await sandbox.stats();
      assert.ok(stats.pidsLimitHits > 0, JSON.stringify(stats));
    } finally {
      await sandbox.destroy();
    }
    assert.deepEqual(leftovers(sandbox.id), []);
  });

  it('tells a limit watch of forks refused at the guest task limit as they happen, while the sandbox runs', async () => {
    const sandbox = await create({ pids: 12 });
    try {
      // Children that stay: the bomb reaches the limit, is refused, and the sandbox goes on running.
      // It waits a moment first, so the watch is armed before the bomb (a hit before arming is the runner's first read).
      const proc = await sandbox.start({ argv: ['python3', '-c', 'import os, time\ntime.sleep(1.5)\ntry:\n  while True:\n    if os.fork() == 0:\n      time.sleep(60); os._exit(0)\nexcept OSError as e:\n  print("refused", e.errno, flush=True)\ntime.sleep(60)'], stdin: false });
      proc.stderr.resume();
      let changed = 0;
      const failures: string[] = [];
      const watch = await sandbox.watchLimits?.({ changed: () => changed++, failed: (reason) => failures.push(reason) });
      assert.ok(watch !== undefined, 'the gvisor driver arms limit events');
      try {
        const out = await new Promise<string>((resolve) => proc.stdout.once('data', (c: Buffer) => resolve(c.toString('utf8'))));
        assert.match(out, /^refused 11\n/);
        const deadline = Date.now() + 5_000;
        while (changed === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.ok(changed > 0, 'changed() was called for the refused fork');
        assert.ok((await sandbox.stats()).pidsLimitHits > 0);
        assert.deepEqual(failures, []);
      } finally {
        watch.close();
      }
    } finally {
      await sandbox.destroy();
    }
    assert.deepEqual(leftovers(sandbox.id), []);
  });

  it('tells a limit watch of an OOM kill in the host cgroup', async () => {
    const sandbox = await create({ memoryMb: 128 });
    try {
      // A moment's pause first, so the watch is armed before the balloon grows.
      const proc = await sandbox.start({ argv: ['python3', '-c', 'import time\ntime.sleep(0.5)\nx = [bytearray(8 << 20) for _ in range(64)]'], stdin: false });
      proc.stdout.resume();
      proc.stderr.resume();
      let changed = 0;
      const watch = await sandbox.watchLimits?.({ changed: () => changed++, failed: () => undefined });
      assert.ok(watch !== undefined);
      try {
        assert.deepEqual(await proc.exit, { code: null, signal: 'SIGKILL' });
        // Counters without an event source here (the runner polls them) are read the way it would.
        const deadline = Date.now() + 5_000;
        while (changed === 0 && Date.now() < deadline) {
          if (watch.polled !== undefined) watch.poll();
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.ok(changed > 0, `changed() was called (polled: ${watch.polled ?? 'nothing'})`);
        assert.ok((await sandbox.stats()).oomKills > 0);
      } finally {
        watch.close();
      }
    } finally {
      await sandbox.destroy();
    }
    assert.deepEqual(leftovers(sandbox.id), []);
  });

  it('reports no hit for a workload that forks below its limit', async () => {
    const sandbox = await create({ pids: 12 });
    try {
      const proc = await sandbox.start({ argv: ['/bin/sh', '-c', 'for i in 1 2 3 4 5 6 7 8; do /bin/true; done'], stdin: false });
      const [, err, exit] = await Promise.all([collect(proc.stdout), collect(proc.stderr), proc.exit]);
      assert.deepEqual(exit, { code: 0, signal: null }, err);
      assert.equal((await sandbox.stats()).pidsLimitHits, 0);
    } finally {
      await sandbox.destroy();
    }
  });

  it('stops scratch at its size and reports it full', async () => {
    const sandbox = await create({ scratchMb: 4 });
    try {
      const proc = await sandbox.start({ argv: ['/bin/sh', '-c', 'head -c 8000000 /dev/zero > /tmp/fill; echo rc=$?'], stdin: false });
      const [out, err] = await Promise.all([collect(proc.stdout), collect(proc.stderr), proc.exit]);
      assert.match(out, /rc=1/);
      assert.match(err, /No space left/);
      assert.equal((await sandbox.stats()).scratchFull, true);
    } finally {
      await sandbox.destroy();
    }
  });
});
