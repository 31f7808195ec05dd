/**
 * Loads the compiled filter into the real kernel through bubblewrap's `--seccomp` and probes it
 * from inside with raw syscalls. Probes pass harmless arguments; the ones that would act if the
 * filter were missing (namespace clone, foreign ABIs) run in a forked child.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { hostArch } from './arch.ts';
import { compileBpf } from './bpf.ts';
import { DEFAULT_PROFILE } from './profile.ts';
import { PROBE_SCRIPT, probeNumbers } from './kernel-probe.ts';
import { hostInt80Support } from './host-abi.ts';

const BWRAP = '/usr/bin/bwrap';
const PYTHON = '/usr/bin/python3';
/** An unprivileged host uid: running bwrap as root would map the sandbox user to host root. */
const HOST_ID = 1500000000;
const EPERM = 1;
const ENOSYS = 38;
const SIGSYS = 31;

const BWRAP_ARGS = [
  '--unshare-all', '--unshare-user', '--uid', '65534', '--gid', '65534', '--die-with-parent', '--new-session',
  '--ro-bind', '/usr', '/usr', '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/lib', '/lib',
  '--symlink', 'usr/lib64', '/lib64', '--proc', '/proc', '--dev', '/dev',
];

/** Result of one process run. */
interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs bwrap with `args`, as an unprivileged host uid, optionally handing it `fd3` as fd 3. */
function runBwrap(args: string[], fd3?: number): Promise<Run> {
  const asRoot = process.getuid?.() === 0;
  return new Promise((resolve, reject) => {
    const child = spawn(BWRAP, args, {
      cwd: '/',
      env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' },
      stdio: ['ignore', 'pipe', 'pipe', ...(fd3 === undefined ? [] : [fd3])],
      ...(asRoot ? { uid: HOST_ID, gid: HOST_ID } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Why this host cannot run the test, or undefined when it can. */
async function missing(): Promise<string | undefined> {
  if (!existsSync(BWRAP)) return `${BWRAP} is not installed`;
  if (!existsSync(PYTHON)) return `${PYTHON} is not installed`;
  const probe = await runBwrap([...BWRAP_ARGS, '--', '/usr/bin/true']);
  if (probe.code !== 0) return `bubblewrap cannot create an unprivileged user namespace here: ${probe.stderr.trim()}`;
  return undefined;
}

const SIGSEGV = 11;

/**
 * The i386 check: only SIGSYS (the filter killed it) passes. A SIGSEGV is the kernel refusing the
 * ABI before any filter ran; it is skipped with that reason only when the same call dies the same
 * way on the host outside any filter, and fails otherwise.
 */
async function foreignAbiCase(t: TestContext, name: string, got: unknown): Promise<void> {
  const support = (got as { signal?: number } | undefined)?.signal === SIGSEGV ? hostInt80Support() : undefined;
  const skip = support?.kind === 'refused' ? support.reason : undefined;
  await t.test(name, skip === undefined ? {} : { skip }, () => {
    assert.deepEqual(got, { signal: SIGSYS, code: -1 }, `${name}${support === undefined ? '' : ` (host outside any filter: ${JSON.stringify(support)})`}`);
  });
}

describe('seccomp filter in the real kernel (bubblewrap)', () => {
  it('denies the attack syscalls and keeps ordinary work running', async (t) => {
    const reason = await missing();
    if (reason !== undefined) {
      t.skip(reason);
      return;
    }
    const arch = hostArch();
    const dir = mkdtempSync(join(tmpdir(), 'seccomp-bpf-'));
    const file = join(dir, 'filter.bpf');
    writeFileSync(file, compileBpf(DEFAULT_PROFILE, arch));
    const fd = openSync(file, 'r');
    let run: Run;
    try {
      run = await runBwrap([...BWRAP_ARGS, '--seccomp', '3', '--', PYTHON, '-c', PROBE_SCRIPT, JSON.stringify(probeNumbers(arch))], fd);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(run.code, 0, `probe failed: ${run.stderr}`);
    const r = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.equal(r['seccomp'], '2');
    assert.equal(r['uid'], 65534);
    assert.deepEqual(r['unshare'], [-1, EPERM]);
    assert.deepEqual(r['mount'], [-1, EPERM]);
    assert.deepEqual(r['bpf'], [-1, EPERM]);
    assert.deepEqual(r['clone3'], [-1, ENOSYS]);
    assert.deepEqual(r['io_uring_setup'], [-1, EPERM]);
    for (const name of ['mount_setattr', 'quotactl_fd', 'open_tree_attr']) assert.deepEqual(r[name], [-1, EPERM], name);
    assert.deepEqual(r['ioctl_tiocsti_high'], [-1, EPERM]);
    assert.deepEqual(r['ioctl_tcgets'], [-1, 9], 'TCGETS reaches the kernel (EBADF for fd -1)');
    assert.deepEqual(r['socket_vsock_high'], [-1, EPERM]);
    assert.ok(Array.isArray(r['socket_unix']) && Number(r['socket_unix'][0]) >= 0, 'AF_UNIX sockets work');
    assert.deepEqual(r['personality_no_aslr'], [-1, EPERM]);
    assert.ok(Array.isArray(r['personality_query']) && Number(r['personality_query'][0]) >= 0);
    assert.deepEqual(r['clone_newuser'], { signal: 0, code: EPERM });
    assert.deepEqual(r['fork'], { signal: 0, code: 7 });
    assert.equal(r['thread'], 'ran', 'threads start: clone3 ENOSYS falls back to clone');
    if (arch === 'x86_64') {
      assert.deepEqual(r['x32'], { signal: SIGSYS, code: -1 }, 'x32 syscall kills the process');
      await foreignAbiCase(t, 'i386 int 0x80 kills the process', r['int80']);
    }
  });
});
