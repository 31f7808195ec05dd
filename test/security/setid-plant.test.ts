/**
 * T26, no privilege planted on the host, on every runtime: a sandbox with a writable grant tries
 * to make setuid/setgid files and directories (chmod 4755/2755, fchmod, fchmodat, open(O_CREAT)
 * and O_TMPFILE with 06755, creat, mkdir 02755, mknod, mkfifo) and to give a file capabilities
 * (setxattr security.capability). Every attempt fails with EPERM, nothing under the grant carries
 * S_ISUID/S_ISGID or a security.capability attribute on the host, and inotify on the host directory
 * never sees any refused name created, not even for an instant (gVisor's gofer creates files as
 * root before handing them over: a refused mode must never reach it).
 */
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { hostArch, syscallNumber } from '../../src/isolation/seccomp/arch.ts';
import { ERRNO } from './lib/probes.ts';
import { GRANT_RUNTIMES, grantSkipReason, runInSandbox } from './lib/runtime.ts';
import { gapAware, runtimeCase, useSuite } from './lib/suite.ts';

const suite = useSuite();

/** Where the writable grant appears inside the sandbox. */
const AT = '/tmp/granted';
/** Refused creations in one burst: a transient file would have many chances to show. */
const BURST = 200;

/**
 * The in-sandbox attempts. Every name a refused call would create starts with `planted`; the
 * controls (what a writable grant must still allow) start with `control`. Prints one JSON object:
 * attempt name → errno (0: the call succeeded).
 */
const ATTEMPTS = String.raw`
import ctypes, json, os, stat, sys
nr = json.loads(sys.argv[1]); d = sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
HIGH = 1 << 32
def err(fn):
    try: fn(); return 0
    except OSError as e: return e.errno
def sc(*a):
    ctypes.set_errno(0)
    r = libc.syscall(*[ctypes.c_long(x) if isinstance(x, int) else x for x in a])
    return 0 if r >= 0 else ctypes.get_errno()
out = {}
victim = d + "/control-victim"
fd = os.open(victim, os.O_CREAT | os.O_WRONLY, 0o755); os.write(fd, b"#!/bin/sh\nid\n")
dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
out["chmod_4755"] = err(lambda: os.chmod(victim, 0o4755))
out["chmod_2755"] = err(lambda: os.chmod(victim, 0o2755))
out["fchmod_6755"] = err(lambda: os.fchmod(fd, 0o6755))
out["fchmodat_4755"] = err(lambda: os.chmod("control-victim", 0o4755, dir_fd=dfd))
out["fchmodat_high"] = sc(nr["fchmodat"], -100, victim.encode(), 0o4755 | HIGH)
if nr.get("fchmodat2") is not None: out["fchmodat2_2755"] = sc(nr["fchmodat2"], dfd, b"control-victim", 0o2755, 0)
out["open_creat_6755"] = err(lambda: os.open(d + "/planted-open", os.O_CREAT | os.O_WRONLY, 0o6755))
out["openat_creat_high"] = sc(nr["openat"], -100, (d + "/planted-openat").encode(), os.O_CREAT | os.O_WRONLY, 0o4755 | HIGH)
out["open_tmpfile_4755"] = err(lambda: os.open(d, os.O_TMPFILE | os.O_WRONLY, 0o4755))
if nr.get("creat") is not None: out["creat_2755"] = sc(nr["creat"], (d + "/planted-creat").encode(), 0o2755)
out["mkdir_2755"] = err(lambda: os.mkdir(d + "/planted-sgid-dir", 0o2755))
out["mkdirat_4755"] = sc(nr["mkdirat"], -100, (d + "/planted-dir").encode(), 0o4755)
out["mknod_reg_4755"] = err(lambda: os.mknod(d + "/planted-node", stat.S_IFREG | 0o4755))
out["mkfifo_2644"] = err(lambda: os.mkfifo(d + "/planted-fifo", 0o2644))
out["openat2"] = sc(nr["openat2"], -100, (d + "/planted-openat2").encode(), ctypes.create_string_buffer(24), 24)
burst = [err(lambda i=i: os.open(d + "/planted-burst-%d" % i, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o6755)) for i in range(int(sys.argv[3]))]
out["burst"] = sorted(set(burst))
# A v2 file capability granting CAP_SETUID: needs CAP_SETFCAP, which the sandbox lacks.
cap = (0x02000000).to_bytes(4, "little") + (1 << 7).to_bytes(4, "little") + bytes(4) + bytes(8)
out["setxattr_capability"] = err(lambda: os.setxattr(victim, "security.capability", cap))
# Controls: the grant is writable and ordinary modes still work.
out["control_chmod"] = err(lambda: os.chmod(victim, 0o750))
out["control_mkdir"] = err(lambda: os.mkdir(d + "/control-dir", 0o755))
print(json.dumps(out))
`;

/** Paths under `dir` (itself included) whose mode carries setuid or setgid. */
async function setidUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  const st = await lstat(dir);
  if ((st.mode & 0o6000) !== 0) found.push(`${dir} (0${st.mode.toString(8)})`);
  if (!st.isDirectory()) return found;
  for (const name of await readdir(dir)) found.push(...(await setidUnder(join(dir, name))));
  return found;
}

/** Paths under `dir` that carry a security.capability attribute (read with the host's python3). */
function capabilitiesUnder(dir: string): string[] {
  const script = 'import os,sys\nfor r,ds,fs in os.walk(sys.argv[1]):\n  for n in ds+fs+[""]:\n    p=os.path.join(r,n)\n    if "security.capability" in os.listxattr(p,follow_symlinks=False): print(p)';
  const r = spawnSync('/usr/bin/python3', ['-c', script, dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, `listing xattrs failed: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l !== '');
}

for (const runtime of GRANT_RUNTIMES) {
  describe(`${runtime}: T26 no privilege planted through a writable grant`, { skip: grantSkipReason(runtime) }, () => {
    let base = '';
    let out = '';
    before(async () => {
      base = await mkdtemp(join(tmpdir(), 'airlock-setid-'));
      await chmod(base, 0o755);
      out = join(base, 'out');
      await mkdir(out);
      // World-writable (not sticky), as a shared output directory would be: only the profile stands in the way.
      await chmod(out, 0o777);
    });
    after(() => rm(base, { recursive: true, force: true }));

    runtimeCase(suite, runtime, 'T26 setuid/setgid modes and file capabilities are refused, and never appear on the host even transiently', async (t, ready) => {
      const arch = hostArch();
      const numbers: Record<string, number | null> = {};
      for (const name of ['fchmodat', 'fchmodat2', 'openat', 'creat', 'mkdirat', 'openat2'] as const) numbers[name] = syscallNumber(arch, name) ?? null;
      const events: string[] = [];
      let watcher: FSWatcher | undefined;
      let scanning = true;
      const sampled: string[] = [];
      try {
        watcher = watch(out, (type, name) => events.push(`${type}:${String(name)}`));
        // Sampling on top of inotify: any setid entry seen at any instant of the run is recorded.
        const scan = (async () => {
          while (scanning) {
            sampled.push(...(await setidUnder(out).catch(() => [])));
            await sleep(2);
          }
        })();
        const r = await runInSandbox(ready, suite.config, ['/usr/bin/python3', '-c', ATTEMPTS, JSON.stringify(numbers), AT, String(BURST)], {
          mounts: [{ hostPath: out, sandboxPath: AT, writable: true }],
          limits: { timeoutSeconds: 60 },
        });
        // inotify events are read asynchronously: give the last ones time to arrive.
        await sleep(300);
        scanning = false;
        await scan;
        assert.equal(r.termination_reason, 'completed', `${r.error ?? ''}\n${r.output}`);
        const line = r.output.split('\n').find((l) => l.startsWith('{'));
        assert.ok(line, `no output: ${r.output}`);
        t.diagnostic(line);
        const res = JSON.parse(line) as Record<string, number | number[]>;
        // The grant really was writable and ordinary modes work, so the refusals below are the profile's.
        assert.equal(res['control_chmod'], 0, 'chmod 0750 through the writable grant');
        assert.equal(res['control_mkdir'], 0, 'mkdir 0755 through the writable grant');
        for (const name of ['chmod_4755', 'chmod_2755', 'fchmod_6755', 'fchmodat_4755', 'fchmodat_high', 'open_creat_6755', 'openat_creat_high',
          'open_tmpfile_4755', 'creat_2755', 'mkdir_2755', 'mkdirat_4755', 'mknod_reg_4755', 'mkfifo_2644']) {
          if (res[name] === undefined && name === 'creat_2755' && arch !== 'x86_64') continue;
          assert.equal(res[name], ERRNO.EPERM, `${name} must fail with EPERM`);
        }
        if (numbers['fchmodat2'] !== null) {
          await gapAware(t, runtime, 'T26:fchmodat2', () => assert.equal(res['fchmodat2_2755'], ERRNO.EPERM, 'fchmodat2 with 02755 must fail with EPERM'));
        }
        assert.equal(res['openat2'], ERRNO.ENOSYS, 'openat2 (mode out of the filter\'s reach) answers ENOSYS');
        assert.deepEqual(res['burst'], [ERRNO.EPERM], `every one of ${BURST} creations with 06755 fails with EPERM`);
        assert.notEqual(res['setxattr_capability'], 0, 'setting security.capability must fail');
        t.diagnostic(`setxattr security.capability: errno ${String(res['setxattr_capability'])}`);
        // The host: nothing setid, no capability, and no refused name ever created, even for an instant.
        assert.deepEqual(await setidUnder(out), [], 'setuid/setgid entries under the grant on the host');
        assert.deepEqual([...new Set(sampled)], [], 'setuid/setgid entries seen on the host during the run');
        assert.deepEqual(capabilitiesUnder(out), [], 'security.capability attributes under the grant on the host');
        assert.deepEqual(events.filter((e) => e.includes('planted')), [], 'the host saw a refused name created');
        assert.deepEqual((await readdir(out)).filter((n) => n.startsWith('planted')), []);
        assert.ok(events.some((e) => e.includes('control-dir')), `the watcher saw nothing at all, so its silence proves nothing: ${JSON.stringify(events)}`);
      } finally {
        scanning = false;
        watcher?.close();
      }
    });
  });
}
