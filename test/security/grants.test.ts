/**
 * Filesystem grants, controller side, on every runtime:
 *  T23 a grant exposes nothing the sandbox's own unprivileged host uid could not open itself, and
 *      its refusal reads the same whether or not the path exists;
 *  T24 a symlink in any component of a granted path (planted earlier by a sandbox, or swapped in
 *      during the grant) is never followed;
 *  T25 no host unix socket is connectable through a grant, and the host's shared temporary and
 *      runtime directories are never grantable.
 */
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { type GrantedMount } from '../../src/isolation/driver.ts';
import { RefusedControlError } from '../../src/host/control-error.ts';
import type { ExecutionResult } from '../../src/sandbox/result.ts';
import { runPool } from './lib/pool.ts';
import { startRacer } from './lib/race.ts';
import { GRANT_RUNTIMES, grantSkipReason, HUNG, runInSandbox, runOrRefusal, withWatchdog, type SuiteRuntime } from './lib/runtime.ts';
import { gapAware, runtimeCase, useSuite, type Ready } from './lib/suite.ts';

const suite = useSuite();

/** Where a granted path appears in the sandbox: under /tmp, where a mount point is made on demand. */
const AT = '/tmp/granted';

/** Sandbox starts in the T24 race, by runtime (gVisor starts cost ~0.5 s each, four at a time). */
// Fewer on microvm: each start boots a VM, and the race is on the host's side of the grant, shared by every runtime.
const RACE_STARTS: Record<SuiteRuntime, number> = { namespace: 60, gvisor: 24, microvm: 8 };

/** A root-owned unix socket listening on the host, counting who connects. */
interface HostService {
  path: string;
  connections(): number;
  close(): Promise<void>;
}

async function listenAsRoot(path: string): Promise<HostService> {
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections += 1;
    socket.end('HOST-SERVICE\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, resolve);
  });
  // Anyone may connect as far as the mode goes: only the grant rules can keep a sandbox out.
  await chmod(path, 0o666);
  return { path, connections: () => connections, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Host fixture: public, root-only and writable directories, a secret, and a directory with a live socket. */
interface Fixture {
  base: string;
  /** Root-owned 0700: nothing in it is reachable by a sandbox's uid. */
  hidden: string;
  /** World-readable tree with `f` = PUBLIC. */
  pub: string;
  /** World-writable: where a sandbox plants links. */
  out: string;
  /** World-readable, but never granted by anyone: `s.txt` = SECRET. */
  secret: string;
  /** Holds a root service's listening socket `svc.sock`. */
  sockdir: string;
  service: HostService;
  cleanup(): Promise<void>;
}

async function fixture(): Promise<Fixture> {
  const base = await mkdtemp(join(tmpdir(), 'airlock-grants-'));
  await chmod(base, 0o755);
  const dir = async (name: string, mode: number) => {
    const path = join(base, name);
    await mkdir(path);
    await chmod(path, mode);
    return path;
  };
  const hidden = await dir('hidden', 0o700);
  await writeFile(join(hidden, 'f'), 'SECRET', { mode: 0o644 });
  const pub = await dir('pub', 0o755);
  await writeFile(join(pub, 'f'), 'PUBLIC', { mode: 0o644 });
  const out = await dir('out', 0o777);
  const secret = await dir('secret', 0o755);
  await writeFile(join(secret, 's.txt'), 'SECRET', { mode: 0o644 });
  const sockdir = await dir('sockdir', 0o755);
  await writeFile(join(sockdir, 'readme'), 'PUBLIC', { mode: 0o644 });
  const service = await listenAsRoot(join(sockdir, 'svc.sock'));
  return {
    base,
    hidden,
    pub,
    out,
    secret,
    sockdir,
    service,
    cleanup: async () => {
      await service.close();
      await rm(base, { recursive: true, force: true });
    },
  };
}

/** Runs `argv` with one grant at {@link AT}. */
function withGrant(ready: Ready, grant: Omit<GrantedMount, 'sandboxPath'>, argv: string[], at = AT): Promise<ExecutionResult> {
  return runInSandbox(ready, suite.config, argv, { mounts: [{ ...grant, sandboxPath: at }] });
}

/** {@link withGrant}, or the refusal when the grant was refused (nothing ran). */
function tryGrant(ready: Ready, grant: Omit<GrantedMount, 'sandboxPath'>, argv: string[], at = AT): Promise<ExecutionResult | RefusedControlError> {
  return runOrRefusal(ready, suite.config, argv, { mounts: [{ ...grant, sandboxPath: at }] });
}

/** Asserts a start refused by the grant check (thrown, never a run); returns the refusal. */
function refusal(r: ExecutionResult | RefusedControlError, path: string): RefusedControlError {
  if (!(r instanceof RefusedControlError)) assert.fail(`${path} was granted (${r.termination_reason}): ${r.output} ${r.error ?? ''}`);
  assert.equal(r.control, 'filesystem_access');
  assert.doesNotMatch(r.message, /SECRET|HOST-SERVICE/);
  assert.match(r.message, /^filesystem_access: /);
  return r;
}

/** Asserts a refused start, returning its message with `path` replaced by a placeholder. */
function refusedFor(r: ExecutionResult | RefusedControlError, path: string): string {
  return refusal(r, path).message.split(path).join('<path>');
}

/** A python3 client in the sandbox: one connect attempt to `path`, printed as CONNECTED or REFUSED errno. */
const CONNECT = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
    print('CONNECTED', s.recv(64).decode().strip())
except OSError as e:
    print('REFUSED', e.errno)
`;

for (const runtime of GRANT_RUNTIMES) {
  describe(`${runtime}: filesystem grants (T23, T24, T25)`, { skip: grantSkipReason(runtime) }, () => {
    let fx: Fixture;
    before(async () => {
      fx = await fixture();
    });
    after(() => fx.cleanup());

    runtimeCase(suite, runtime, 'T23 a world-readable file in a root-only directory is refused, in the words used for a missing path', async (_t, ready) => {
      const existing = join(fx.hidden, 'f');
      const words = new Set<string>();
      for (const path of [existing, join(fx.hidden, 'missing'), fx.hidden, join(fx.base, 'missing')]) {
        words.add(refusedFor(await tryGrant(ready, { hostPath: path, writable: false }, ['/bin/cat', AT]), path));
      }
      // One message for "exists but not for you" and "does not exist": the refusal is no oracle.
      assert.equal(words.size, 1, `the refusals differ, so they tell what exists:\n${[...words].join('\n')}`);
      // Control: an ordinary grant of a world-readable directory under /tmp still works, read-only by default.
      const pub = await withGrant(ready, { hostPath: fx.pub, writable: false }, ['/bin/sh', '-c', `cat ${AT}/f; echo x > ${AT}/new 2>/dev/null && echo WROTE`]);
      assert.equal(pub.termination_reason, 'completed', pub.error ?? '');
      assert.equal(pub.output.trim(), 'PUBLIC', 'the read-only grant was not readable, or was writable');
    });

    runtimeCase(suite, runtime, 'T23 a writable grant needs write access of the sandbox uid; one it has works', async (_t, ready) => {
      // pub is root-owned 0755: the sandbox's uid may read it but not write it.
      refusedFor(await tryGrant(ready, { hostPath: fx.pub, writable: true }, ['/bin/true']), fx.pub);
      const r = await withGrant(ready, { hostPath: fx.out, writable: true }, ['/bin/sh', '-c', `echo ok > ${AT}/written && cat ${AT}/written`]);
      assert.equal(r.termination_reason, 'completed', r.error ?? '');
      assert.equal(r.output.trim(), 'ok');
      await rm(join(fx.out, 'written'), { force: true });
    });

    runtimeCase(suite, runtime, 'T24 links a sandbox planted through a writable grant are never followed by a later grant', async (_t, ready) => {
      // The earlier sandbox: plants out/results.txt -> the secret file, and out/sub -> the secret directory.
      const plant = await withGrant(ready, { hostPath: fx.out, writable: true }, [
        '/bin/sh', '-c', `ln -s ${join(fx.secret, 's.txt')} ${AT}/results.txt && ln -s ${fx.secret} ${AT}/sub && echo PLANTED`,
      ]);
      assert.equal(plant.output.trim(), 'PLANTED', `${plant.termination_reason}: ${plant.error ?? ''}`);
      try {
        // The later grants: the link itself, and a path whose parent component is the link.
        for (const [path, link] of [[join(fx.out, 'results.txt'), join(fx.out, 'results.txt')], [join(fx.out, 'sub', 's.txt'), join(fx.out, 'sub')]] as const) {
          const r = refusal(await tryGrant(ready, { hostPath: path, writable: false }, ['/bin/cat', AT]), path);
          assert.ok(r.message.includes(`${link} is a symbolic link`), `the refusal does not name the link: ${r.message}`);
        }
      } finally {
        await rm(join(fx.out, 'results.txt'), { force: true });
        await rm(join(fx.out, 'sub'), { force: true });
      }
    });

    runtimeCase(suite, runtime, 'T24 a component swapped for a link during the grant never exposes its target', async (t, ready) => {
      // race/granted/f = PUBLIC; the racer keeps swapping race/ for a link to a tree whose granted/f = SECRET.
      const race = join(fx.base, 'race');
      const decoy = join(fx.base, 'decoy');
      for (const [dir, content] of [[race, 'PUBLIC'], [decoy, 'SECRET']] as const) {
        await mkdir(join(dir, 'granted'), { recursive: true });
        await chmod(dir, 0o755);
        await chmod(join(dir, 'granted'), 0o755);
        await writeFile(join(dir, 'granted', 'f'), content, { mode: 0o644 });
      }
      const racer = startRacer({ kind: 'swap-dir', path: race, target: decoy });
      let swaps: number;
      let results: (ExecutionResult | RefusedControlError | typeof HUNG)[];
      try {
        await racer.ready;
        const starts = RACE_STARTS[runtime];
        results = await runPool(starts, { concurrency: 4 }, () =>
          withWatchdog(tryGrant(ready, { hostPath: join(race, 'granted'), writable: false }, ['/bin/cat', `${AT}/f`]), 60_000),
        );
      } finally {
        swaps = await racer.stop();
      }
      const seen = { public: 0, refused: 0, secret: 0, other: 0 };
      const others: string[] = [];
      for (const r of results) {
        if (r === HUNG) seen.other++;
        else if (r instanceof RefusedControlError) seen[r.message.includes('SECRET') ? 'secret' : 'refused']++;
        else if (`${r.output}${r.error ?? ''}`.includes('SECRET')) seen.secret++;
        else if (r.termination_reason === 'completed' && r.output === 'PUBLIC') seen.public++;
        else {
          seen.other++;
          if (others.length < 3) others.push(`${r.termination_reason} exit ${r.exit_code}: ${r.output} ${r.error ?? ''}`.slice(0, 300));
        }
      }
      t.diagnostic(`${JSON.stringify(seen)}, ${swaps} swaps`);
      assert.equal(seen.secret, 0, `the link's target was exposed: ${JSON.stringify(seen)}`);
      assert.ok(swaps > 0 && seen.refused > 0, `the race did not happen (${swaps} swaps): ${JSON.stringify(seen)}`);
      assert.equal(seen.other, 0, `starts that neither got the grant nor were refused: ${JSON.stringify(seen)}\n${others.join('\n')}`);
    }, { timeout: 300_000 });

    runtimeCase(suite, runtime, "T25 a directory holding a root service's listening socket (mode 0666) is refused, and so is the socket", async (_t, ready) => {
      const socketPath = fx.service.path;
      const dir = refusal(await tryGrant(ready, { hostPath: fx.sockdir, writable: false }, ['/usr/bin/python3', '-c', CONNECT, `${AT}/svc.sock`]), fx.sockdir);
      assert.match(dir.message, /svc\.sock below it is a unix socket/);
      refusedFor(await tryGrant(ready, { hostPath: socketPath, writable: false }, ['/usr/bin/python3', '-c', CONNECT, AT]), socketPath);
      assert.equal(fx.service.connections(), 0, 'the host service was reached');
    });

    runtimeCase(suite, runtime, 'T25 a socket created inside a granted directory after start is not connectable', async (t, ready) => {
      const late = join(fx.base, `late-${runtime}`);
      await mkdir(late);
      await chmod(late, 0o755);
      const stdin = new PassThrough();
      let service: HostService | undefined;
      let onReady: () => void = () => undefined;
      const started = new Promise<void>((resolve) => (onReady = resolve));
      let out = '';
      // The sandbox says READY, waits for a line, then tries the socket that appeared meanwhile.
      const script = `import sys\nprint('READY', flush=True)\nsys.stdin.readline()\n${CONNECT}`;
      const run = runInSandbox(ready, suite.config, ['/usr/bin/python3', '-c', script, `${AT}/late.sock`], {
        mounts: [{ hostPath: late, sandboxPath: AT, writable: false }],
        stdin,
        onStdout: (chunk) => {
          out += chunk.toString('utf8');
          if (out.includes('READY')) onReady();
        },
      });
      try {
        // Readiness, not a sleep: the socket appears only once the sandbox is running.
        await Promise.race([started, run.then((r) => assert.fail(`the sandbox ended before it was ready: ${r.termination_reason} ${r.error ?? ''}`))]);
        service = await listenAsRoot(join(late, 'late.sock'));
        stdin.end('go\n');
        const r = await run;
        assert.equal(r.termination_reason, 'completed', r.error ?? '');
        assert.match(r.output, /CONNECTED|REFUSED/, r.output);
        const connections = service.connections();
        await gapAware(t, runtime, 'T25:late_socket', () => {
          assert.doesNotMatch(r.output, /CONNECTED/, 'the sandbox connected to a host socket inside its grant');
          assert.equal(connections, 0, 'the host service saw a connection from the sandbox');
        });
      } finally {
        stdin.destroy();
        await run.catch(() => undefined);
        await service?.close();
      }
    });

    runtimeCase(suite, runtime, "T25 the host's shared temporary and runtime directories are never grantable", async (_t, ready) => {
      for (const path of ['/tmp', '/tmp/', '/var/tmp', '/dev/shm', '/run/user', '/tmp/../tmp']) {
        const r = refusal(await tryGrant(ready, { hostPath: path, writable: false }, ['/bin/true']), path);
        assert.match(r.message, /may not be granted/, `${path}: ${r.message}`);
      }
    });
  });
}
