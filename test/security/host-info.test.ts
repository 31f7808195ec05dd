/**
 * T10/T21 (host information and devices), on every runtime: the /proc files that show the host
 * kernel, disks, load or boot identity show nothing of it inside a sandbox; /proc/mounts names no
 * host path; /dev/fuse can't be opened; python3 and node still start and read load and uptime.
 * Each value is compared with the host's own file, read here. What bind mounts can't hide (host
 * paths in mountinfo, the host uid in tmpfs options) is asserted too, as documented known gaps.
 */
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { after } from 'node:test';
import { RUNTIMES, runInSandbox } from './lib/runtime.ts';
import { gapAware, runtimeCase, useSuite, type Ready } from './lib/suite.ts';
import { PROC_MASKS, SANDBOX_LOADAVG } from '../../src/isolation/proc-masks.ts';

const suite = useSuite();

/** A granted host directory, outside every never-grantable place, readable by the sandbox's uid. */
const grant = mkdtempSync('/var/lib/airlock-t10-grant-');
chmodSync(grant, 0o755);
after(() => rmSync(grant, { recursive: true, force: true }));

const FILES = ['/proc/cmdline', '/proc/interrupts', '/proc/diskstats', '/proc/partitions', '/proc/loadavg', '/proc/sys/kernel/random/boot_id', '/proc/self/mounts', '/proc/self/mountinfo'];

/** Prints `@@ <name>` before each section; unreadable files print nothing after their marker. */
const SCRIPT = [
  `for f in ${FILES.join(' ')}; do echo "@@ $f"; cat "$f" 2>/dev/null; done`,
  'echo "@@ config.gz"; if [ -e /proc/config.gz ]; then wc -c < /proc/config.gz; fi',
  'echo "@@ pressure"; ls -A /proc/pressure 2>/dev/null',
  `echo "@@ fuse"; perl -e 'print((-e "/dev/fuse" ? "exists" : "absent"), " ", (open(my $r, "<", "/dev/fuse") ? "read" : "noread"), " ", (open(my $w, "+<", "/dev/fuse") ? "write" : "nowrite"), "\\n")'`,
  `echo "@@ python3"; if command -v python3 >/dev/null; then python3 -c 'import os; os.getloadavg(); print("ok")' 2>&1 || echo failed; fi`,
  `echo "@@ node"; if command -v node >/dev/null; then node -e 'const os = require("os"); os.loadavg(); os.uptime(); console.log("ok")' 2>&1 || echo failed; fi`,
].join('\n');

/** The sections of one run, by name. */
type Sections = Map<string, string>;

async function inspect(ready: Ready): Promise<Sections> {
  const result = await runInSandbox(ready, suite.config, ['sh', '-c', SCRIPT], {
    mounts: [{ hostPath: grant, sandboxPath: '/tmp/data', writable: false }],
  });
  assert.equal(result.exit_code, 0, `inspection failed: ${result.error ?? ''} ${result.output.slice(-500)}`);
  const sections: Sections = new Map();
  let name = '';
  for (const line of result.output.split('\n')) {
    if (line.startsWith('@@ ')) {
      name = line.slice(3);
      sections.set(name, '');
    } else if (name !== '') {
      sections.set(name, `${sections.get(name) ?? ''}${line}\n`);
    }
  }
  return sections;
}

const host = (path: string): string => (existsSync(path) ? readFileSync(path, 'utf8') : '');
/** Disk names the host kernel lists (vda, sda, nvme0n1, ...). */
const hostDisks = (): string[] => host('/proc/partitions').split('\n').slice(2).map((l) => l.trim().split(/\s+/)[3] ?? '').filter((n) => n !== '');

// microvm too: the same checks inside its guest.
for (const runtime of [...RUNTIMES, 'microvm'] as const) {
  describe(`${runtime}: T10/T21 host information`, () => {
    let sections: Promise<Sections> | undefined;
    const get = (ready: Ready) => (sections ??= inspect(ready));
    const section = (s: Sections, name: string) => s.get(name) ?? assert.fail(`no ${name} section in the output`);

    runtimeCase(suite, runtime, 'T10 /proc shows no host kernel command line, boot id, disks, interrupts, pressure or load', async (t, ready) => {
      const s = await get(ready);
      const cmdline = host('/proc/cmdline').trim();
      assert.ok(cmdline !== '', 'the host has a kernel command line to compare with');
      assert.ok(!section(s, '/proc/cmdline').includes(cmdline), '/proc/cmdline shows the host command line');
      const bootId = host('/proc/sys/kernel/random/boot_id').trim();
      assert.ok(!section(s, '/proc/sys/kernel/random/boot_id').includes(bootId), 'boot_id is the host boot id');
      for (const file of ['/proc/interrupts', '/proc/diskstats', '/proc/partitions']) {
        const seen = section(s, file);
        if (runtime === 'microvm' && file !== '/proc/interrupts') {
          // The guest's own kernel: its only disk is its virtio disk (the image), named vd* whatever the host's are called.
          const names = seen.split('\n').map((line) => line.trim().split(/\s+/)[file === '/proc/diskstats' ? 2 : 3]).filter((n): n is string => n !== undefined && n !== '' && n !== 'name');
          assert.ok(names.every((n) => /^vd[a-z]+\d*$/.test(n)), `${file} names a disk that is not the guest's own: ${seen.slice(0, 200)}`);
          continue;
        }
        assert.ok(hostDisks().every((disk) => !new RegExp(`\\b${disk}\\b`).test(seen)), `${file} names a host disk: ${seen.slice(0, 200)}`);
        if (runtime === 'namespace') assert.equal(seen, '', `${file} is replaced by an empty file`);
      }
      assert.match(section(s, 'config.gz'), /^(0\n)?$/, '/proc/config.gz is absent or empty');
      // A microvm guest's pressure is its own kernel's, measured over the sandbox alone: nothing of the host.
      if (runtime !== 'microvm') assert.equal(section(s, 'pressure'), '', '/proc/pressure is absent or empty');
      else t.diagnostic(`not compared on microvm: /proc/pressure is the guest kernel's own (${section(s, 'pressure').trim().split('\n').join(', ') || 'empty'})`);
      const loadavg = section(s, '/proc/loadavg');
      assert.match(loadavg, /^\d+\.\d\d \d+\.\d\d \d+\.\d\d \d+\/\d+ \d+\n$/, 'loadavg still parses');
      if (runtime === 'namespace') assert.equal(loadavg, SANDBOX_LOADAVG, 'loadavg is the idle replacement, not the host load');
    });

    runtimeCase(suite, runtime, 'T10 python3 and node start and read load and uptime', async (_t, ready) => {
      const s = await get(ready);
      for (const program of ['python3', 'node']) {
        const out = section(s, program);
        assert.ok(out === '' || out === 'ok\n', `${program}: ${out}`);
      }
      assert.ok(section(s, 'node') === 'ok\n', 'node is in the default image and must run');
    });

    runtimeCase(suite, runtime, 'T10 /proc/mounts and mountinfo name no host path or host uid where that can be hidden', async (t, ready) => {
      const s = await get(ready);
      const mounts = section(s, '/proc/self/mounts');
      const mountinfo = section(s, '/proc/self/mountinfo');
      const hostPaths = [ready.image.rootfs, grant, suite.config.stateDir];
      // /proc/mounts names devices and mount points only: no host path may appear there.
      for (const path of hostPaths) assert.ok(!mounts.includes(path), `/proc/mounts names ${path}`);
      for (const secret of [host('/proc/cmdline').trim(), host('/proc/sys/kernel/random/boot_id').trim()]) {
        assert.ok(!mountinfo.includes(secret), 'mountinfo carries host kernel values');
      }
      await gapAware(t, runtime, 'T10host:mountinfo-paths', () => {
        for (const path of hostPaths) assert.ok(!mountinfo.includes(path), `mountinfo names ${path}`);
      });
      const { hostUidBase, hostUidCount } = suite.config;
      const hostUids = [...mounts.matchAll(/\buid=(\d+)/g)].map((m) => Number(m[1])).filter((uid) => uid >= hostUidBase && uid < hostUidBase + hostUidCount);
      await gapAware(t, runtime, 'T10host:mounts-uid', () => {
        assert.deepEqual(hostUids, [], '/proc/mounts shows the sandbox\'s host uid');
      });
    });

    runtimeCase(suite, runtime, 'T21 /dev/fuse cannot be opened, and is absent', async (t, ready) => {
      const fuse = section(await get(ready), 'fuse').trim().split(' ');
      assert.deepEqual(fuse.slice(1), ['noread', 'nowrite'], '/dev/fuse opens');
      await gapAware(t, runtime, 'T21:fuse-absent', () => assert.equal(fuse[0], 'absent', '/dev/fuse exists'));
    });
  });
}

// Every masked path is a /proc path: the list is the one both runtimes use.
assert.ok(PROC_MASKS.every((mask) => mask.path.startsWith('/proc/')));
