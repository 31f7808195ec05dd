/**
 * The launch prefix that keeps descriptors the controller inherited away from the runtimes: its
 * argv, the agent's `--close-fds-from` mode for real (built from agent/airlock-agent.c), and the
 * fail-closed path (the agent refuses, the runtime never runs, the error names the control).
 * The sandboxes themselves are covered by test/security/inherited-fds.test.ts.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type IOType } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { buildTestAgent } from '../agent/test-agent.ts';
import { ControlError } from '../host/control-error.ts';
import { findExecutable } from '../host/which.ts';
import { watchFdCloser, withoutInheritedFds } from './inherited-fds.ts';

describe('withoutInheritedFds', () => {
  it('puts the agent first, with the boundary, before the launch', () => {
    assert.deepEqual(withoutInheritedFds('/state/agent/k/airlock-agent', 7, ['/usr/bin/nsenter', '--net=/run/netns/n', '--', '/usr/bin/bwrap']), [
      '/state/agent/k/airlock-agent', '--close-fds-from', '7', '--', '/usr/bin/nsenter', '--net=/run/netns/n', '--', '/usr/bin/bwrap',
    ]);
  });

  it('puts the limits it sets before the launch', () => {
    assert.deepEqual(withoutInheritedFds('/a', 7, ['/usr/bin/bwrap'], { openFiles: 256, noCore: true }), ['/a', '--close-fds-from', '7', '--nofile', '256', '--no-core', '--', '/usr/bin/bwrap']);
    assert.deepEqual(withoutInheritedFds('/a', 7, ['/usr/bin/bwrap'], { noCore: false }), ['/a', '--close-fds-from', '7', '--', '/usr/bin/bwrap']);
    for (const openFiles of [0, 1.5, 2 ** 31]) assert.throws(() => withoutInheritedFds('/a', 7, ['/usr/bin/bwrap'], { openFiles }), /no open-file limit/);
  });

  it('ties the launch to the controller when asked, naming its pid', () => {
    assert.deepEqual(withoutInheritedFds('/a', 3, ['/usr/bin/runsc'], { dieWithParent: 4321 }), ['/a', '--close-fds-from', '3', '--die-with-parent', '4321', '--', '/usr/bin/runsc']);
    for (const dieWithParent of [0, 1, 2.5, 2 ** 31]) assert.throws(() => withoutInheritedFds('/a', 3, ['/usr/bin/runsc'], { dieWithParent }), /no controller pid/);
  });

  it('refuses a launcher found through PATH and a boundary below 3', () => {
    assert.throws(() => withoutInheritedFds('/a', 3, ['bwrap']), /absolute path/);
    assert.throws(() => withoutInheritedFds('/a', 3, []), /absolute path/);
    assert.throws(() => withoutInheritedFds('/a', 2, ['/usr/bin/bwrap']), /no boundary/);
  });
});

describe('watchFdCloser', () => {
  it('names the control the launch step refused for: the descriptors, the limits or the parent-death signal', async () => {
    const refusals = [
      ['airlock-agent: cannot close inherited descriptors: neither close_range nor /proc/self/fd is available\n', 'inherited descriptors', /neither close_range nor \/proc\/self\/fd/],
      ['airlock-agent: cannot set resource limits: RLIMIT_NOFILE 9: Operation not permitted\n', 'rlimits', /RLIMIT_NOFILE 9: Operation not permitted/],
      ['airlock-agent: cannot tie the runtime to its controller: its controller (pid 77) is gone\n', 'parent death signal', /controller \(pid 77\) is gone/],
    ] as const;
    for (const [line, control, detail] of refusals) {
      const stderr = new PassThrough();
      const watch = watchFdCloser(stderr);
      stderr.end(line);
      const err = await watch.failure();
      assert.ok(err instanceof ControlError);
      assert.equal(err.control, control);
      assert.match(err.message, detail);
    }
  });

  it("is silent about the runtime's own messages", async () => {
    const stderr = new PassThrough();
    const watch = watchFdCloser(stderr);
    stderr.end('bwrap: Can\'t mount proc on /newroot/proc: Operation not permitted\nairlock-agent: cannot close inherited descriptors: later text is not the closer\n');
    assert.equal(await watch.failure(), undefined);
  });
});

const skip = process.getuid?.() !== 0 ? 'needs root to build the agent into a private state directory' : findExecutable('gcc') === undefined ? 'gcc is not installed' : false;

describe('the agent as the launch prefix', { skip }, () => {
  let stateDir = '';
  let binary = '';
  let secretFile = '';
  before(async () => {
    const built = await buildTestAgent();
    stateDir = built.stateDir;
    binary = built.agent.path;
    secretFile = `${mkdtempSync(`${stateDir}/secret-`)}/secret`;
    writeFileSync(secretFile, 'inherited\n', { mode: 0o600 });
  });
  after(() => rmSync(stateDir, { recursive: true, force: true }));

  /** Runs `argv` through the prefix with a pipe on fd 3 and the secret file on 5 and 40 (below and above `keep`). */
  async function launch(keep: number, argv: string[], options: string[] = []): Promise<{ code: number | null; stdout: string; refusal: ControlError | undefined }> {
    const fd = openSync(secretFile, 'r');
    try {
      const stdio: (IOType | number)[] = ['ignore', 'pipe', 'pipe', 'pipe', ...Array.from({ length: 37 }, () => 'ignore' as const)];
      stdio[5] = fd;
      stdio[40] = fd;
      const child = spawn(binary, ['--close-fds-from', String(keep), ...options, '--', ...argv], { stdio, env: { PATH: '/usr/bin:/bin' } });
      const watch = watchFdCloser(child.stderr as Readable);
      let stdout = '';
      child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      return { code, stdout, refusal: await watch.failure() };
    } finally {
      closeSync(fd);
    }
  }

  /** dash's `[` is a builtin: /proc/self is the shell that the prefix exec'd into. */
  const LIST_FDS = ['/bin/sh', '-c', 'for n in 3 4 5 6 40; do if [ -e /proc/self/fd/$n ]; then echo open $n; fi; done'];

  it('closes every descriptor from the boundary up and execs the launch', async () => {
    const { code, stdout, refusal } = await launch(4, LIST_FDS);
    assert.equal(refusal, undefined);
    assert.equal(code, 0);
    // fd 3 (below the boundary) stays; 5 and 40 (the inherited file) are gone.
    assert.equal(stdout, 'open 3\n');
  });

  it('keeps what lies below the boundary (the control: without the prefix both copies would be open)', async () => {
    const { stdout } = await launch(41, LIST_FDS);
    assert.equal(stdout, 'open 3\nopen 5\nopen 40\n');
  });

  it('fails closed: a bad boundary or a relative launcher never runs, and the refusal names the control', async () => {
    for (const [keep, argv] of [[2, LIST_FDS], [4, ['sh', '-c', 'echo ran']]] as const) {
      const { code, stdout, refusal } = await launch(keep, [...argv]);
      assert.equal(code, 126);
      assert.equal(stdout, '', 'the launch never ran');
      assert.ok(refusal instanceof ControlError, `refused with a ControlError (keep ${keep})`);
      assert.equal(refusal.control, 'inherited descriptors');
    }
  });

  /** The soft and hard open-file and core limits, as /proc/self/limits lists them. */
  const LIST_LIMITS = ['/bin/sh', '-c', 'grep -E "^Max (open files|core file size)" /proc/self/limits | tr -s " "'];

  it('sets the open-file and core limits it is given, soft and hard (the control: the caller\'s own without them)', async () => {
    const limited = await launch(4, LIST_LIMITS, ['--nofile', '77', '--no-core']);
    assert.equal(limited.refusal, undefined);
    assert.equal(limited.stdout, 'Max core file size 0 0 bytes \nMax open files 77 77 files \n');
    const inherited = await launch(4, LIST_LIMITS);
    assert.doesNotMatch(inherited.stdout, /open files 77 77/);
  });

  it('fails closed: an unknown option or a limit the kernel refuses never runs, and the refusal names the control', async () => {
    for (const [options, control] of [[['--nofile'], 'inherited descriptors'], [['--nofile', '0'], 'inherited descriptors'], [['--core'], 'inherited descriptors'], [['--nofile', String(2 ** 31 - 1)], 'rlimits']] as const) {
      const { code, stdout, refusal } = await launch(4, ['/bin/sh', '-c', 'echo ran'], [...options]);
      assert.equal(code, 126, options.join(' '));
      assert.equal(stdout, '', 'the launch never ran');
      assert.equal(refusal?.control, control, options.join(' '));
    }
  });

  /**
   * A shell starts the prefix in the background (so the shell is its parent), prints the launched
   * sleep's pid, and is then killed: the pid of the sleep, and whether it is gone a moment later.
   */
  async function sleepAfterParentDies(options: (shellPid: string) => string[]): Promise<boolean> {
    const launch = [binary, '--close-fds-from', '3', ...options('$$'), '--', '/bin/sleep', '30'].join(' ');
    const shell = spawn('/bin/sh', ['-c', `${launch} & echo $!; wait`], { stdio: ['ignore', 'pipe', 'ignore'] });
    const pid = Number(await new Promise<string>((resolve) => shell.stdout?.once('data', (c: Buffer) => resolve(c.toString().trim()))));
    assert.ok(Number.isInteger(pid) && pid > 1, 'the sleep\'s pid');
    shell.kill('SIGKILL');
    // The signal comes as the parent exits; a second is ample for it, and the control's wait.
    const deadline = Date.now() + 1_000;
    while (Date.now() < deadline && isSleeping(pid)) await new Promise((resolve) => setTimeout(resolve, 20));
    const alive = isSleeping(pid);
    if (alive) process.kill(pid, 'SIGKILL');
    shell.stdout?.destroy();
    return alive;
  }

  const isSleeping = (pid: number): boolean => {
    try {
      return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
    } catch {
      return false;
    }
  };

  it('--die-with-parent: the launch is killed when its parent dies (the control: it lives on without the option)', async () => {
    assert.equal(await sleepAfterParentDies((shell) => ['--die-with-parent', shell]), false, 'killed with its parent');
    assert.equal(await sleepAfterParentDies(() => []), true, 'without the option it outlives its parent');
  });

  it('--die-with-parent: a parent that is not the one named never gets its launch run', async () => {
    const { code, stdout, refusal } = await launch(4, ['/bin/sh', '-c', 'echo ran'], ['--die-with-parent', String(process.pid + 1)]);
    assert.equal(code, 126);
    assert.equal(stdout, '', 'the launch never ran');
    assert.equal(refusal?.control, 'parent death signal');
    const own = await launch(4, ['/bin/sh', '-c', 'echo ran'], ['--die-with-parent', String(process.pid)]);
    assert.equal(own.stdout, 'ran\n');
  });

  it('--no-thp runs the launch with transparent huge pages off, inherited by what it runs (the control: on without it)', () => {
    const thp = (argv: string[]) => spawnSync(binary, argv, { encoding: 'utf8' });
    const status = ['/bin/sh', '-c', 'grep THP_enabled /proc/self/status'];
    assert.equal(thp(['--no-thp', '--', ...status]).stdout, 'THP_enabled:\t0\n');
    // A kernel built without huge pages reports 0 either way.
    if (existsSync('/sys/kernel/mm/transparent_hugepage')) assert.equal(spawnSync(status[0] as string, status.slice(1), { encoding: 'utf8' }).stdout, 'THP_enabled:\t1\n');
    const relative = thp(['--no-thp', '--', 'sh', '-c', 'echo ran']);
    assert.equal(relative.status, 126);
    assert.equal(relative.stdout, '', 'the launch never ran');
  });
});
