/**
 * Hands the OCI form of the filter to a real `runsc --oci-seccomp` and probes it from inside
 * the gVisor sandbox with the same raw-syscall probe as the bubblewrap test.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { hostArch } from './arch.ts';
import { PROBE_SCRIPT, probeNumbers } from './kernel-probe.ts';
import { toOciSeccomp } from './oci.ts';
import type { OciSeccomp } from './oci.ts';
import { DEFAULT_PROFILE } from './profile.ts';

const PYTHON = '/usr/bin/python3';
const EPERM = 1;
const ENOSYS = 38;
const SIGSYS = 31;

/** The runsc binary on PATH, or undefined. */
function findRunsc(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v runsc'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path !== '' ? path : undefined;
}

/** Writes a minimal bundle whose process runs the probe under `seccomp`. */
function writeBundle(dir: string, seccomp: OciSeccomp, numbers: string): void {
  const rootfs = join(dir, 'rootfs');
  for (const d of ['usr', 'proc', 'dev', 'tmp']) mkdirSync(join(rootfs, d), { recursive: true });
  for (const l of ['bin', 'lib', 'lib64']) symlinkSync(`usr/${l}`, join(rootfs, l));
  const config = {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 65534, gid: 65534 },
      args: [PYTHON, '-c', PROBE_SCRIPT, numbers],
      env: ['PATH=/usr/bin:/bin'],
      cwd: '/',
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/usr', type: 'bind', source: '/usr', options: ['rbind', 'ro'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs' },
    ],
    linux: {
      namespaces: ['pid', 'network', 'ipc', 'uts', 'mount'].map((type) => ({ type })),
      seccomp,
    },
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
}

/** Runs the bundle; output goes to a file because runsc's output to a pipe can arrive late. */
function runBundle(runsc: string, dir: string, id: string): Promise<{ code: number | null; output: string }> {
  const outFile = join(dir, 'out.txt');
  const out = openSync(outFile, 'w');
  const args = ['--root', join(dir, 'state'), '--network=none', '--oci-seccomp', 'run', '-bundle', dir, id];
  return new Promise((resolve, reject) => {
    const child = spawn(runsc, args, { stdio: ['ignore', out, out] });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      closeSync(out);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      closeSync(out);
      resolve({ code, output: readFileSync(outFile, 'utf8') });
    });
  });
}

describe('seccomp filter under gVisor (runsc --oci-seccomp)', () => {
  it('denies the attack syscalls and keeps ordinary work running', async (t) => {
    const runsc = findRunsc();
    if (runsc === undefined) return void t.skip('runsc is not installed');
    if (process.getuid?.() !== 0) return void t.skip('runsc run needs root on this host');
    if (!existsSync(PYTHON)) return void t.skip(`${PYTHON} is not installed`);
    const arch = hostArch();
    const dir = mkdtempSync(join(tmpdir(), 'seccomp-oci-'));
    const id = `seccomp-test-${process.pid}`;
    let run: { code: number | null; output: string };
    try {
      writeBundle(dir, toOciSeccomp(DEFAULT_PROFILE, arch), JSON.stringify(probeNumbers(arch)));
      run = await runBundle(runsc, dir, id);
    } finally {
      spawnSync(runsc, ['--root', join(dir, 'state'), 'delete', '-force', id], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(run.code, 0, `runsc failed: ${run.output}`);
    const line = run.output.split('\n').find((l) => l.startsWith('{'));
    assert.ok(line, `no probe output: ${run.output}`);
    const r = JSON.parse(line) as Record<string, unknown>;
    assert.equal(r['seccomp'], '2');
    assert.equal(r['uid'], 65534);
    for (const name of ['unshare', 'mount', 'bpf', 'io_uring_setup', 'ioctl_tiocsti_high', 'socket_vsock_high', 'personality_no_aslr']) {
      assert.deepEqual(r[name], [-1, EPERM], name);
    }
    assert.deepEqual(r['clone3'], [-1, ENOSYS]);
    // This runsc skips these names (not in its table); its Sentry answers ENOSYS for them.
    for (const name of ['mount_setattr', 'quotactl_fd', 'open_tree_attr']) {
      const [ret, errno] = r[name] as [number, number];
      assert.ok(ret === -1 && (errno === EPERM || errno === ENOSYS), `${name}: ${JSON.stringify(r[name])}`);
    }
    assert.deepEqual(r['ioctl_tcgets'], [-1, 9], 'TCGETS reaches the kernel (EBADF for fd -1)');
    assert.ok(Array.isArray(r['socket_unix']) && Number(r['socket_unix'][0]) >= 0, 'AF_UNIX sockets work');
    assert.deepEqual(r['clone_newuser'], { signal: 0, code: EPERM });
    assert.deepEqual(r['fork'], { signal: 0, code: 7 });
    assert.equal(r['thread'], 'ran', 'threads start: clone3 ENOSYS falls back to clone');
    if (arch === 'x86_64') {
      // gVisor has no x32 or i386 syscall table: x32 numbers get ENOSYS and `int 0x80` runs as a
      // native call, which the filter then judges like any other (here: unshare → EPERM).
      const x32 = r['x32'] as { signal: number; code: number };
      assert.ok(x32.signal === SIGSYS || x32.code === ENOSYS, `x32: ${JSON.stringify(x32)}`);
      const int80 = r['int80'] as { signal: number; code: number };
      assert.ok(int80.signal === SIGSYS || int80.code === EPERM, `int 0x80: ${JSON.stringify(int80)}`);
    }
  });
});
