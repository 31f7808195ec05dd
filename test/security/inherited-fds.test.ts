/**
 * T8 from the controller side (CVE-2024-21626 class): a descriptor the controller itself inherited
 * without close-on-exec (a shell's `exec 260<file`, a supervisor's pipe) must never reach sandbox
 * code. The controller is started, as an operator would start it, with a host file holding a
 * secret open on descriptors 10 and 260: the CLI's one-shot `run`, and `airlock serve` answering an
 * execute request, creating a sandbox and handing out a warm-pool one, on every runtime (microvm: a
 * guest restored or booted, its VMM launched like the other runtimes' processes). Inside,
 * a probe tries descriptors 3..1023 of its own and reopens every entry of /proc/<pid>/fd of every
 * process it can see; none may show the secret's bytes, path or inode. A positive control (a file
 * the probe opens itself) proves the probe finds a readable descriptor where there is one. On the
 * host, no process the controller started for the sandbox (bwrap, runsc, its gofer and sandbox
 * kernel) may hold the descriptor either: it must never reach the runtime at all.
 */
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess, type IOType } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RUNTIMES, writeConfigFile, type SuiteRuntime } from './lib/runtime.ts';
import { withUnsignedLoopbackOperator } from './lib/isolated-config.ts';
import { runtimeCase, useSuite } from './lib/suite.ts';

const suite = useSuite();

/** Where the controller inherits the secret: a low number, and one far above any the runtimes use. */
const INHERITED_FDS = [10, 260] as const;
const SECRET = `airlock-inherited-fd-${randomBytes(16).toString('hex')}`;
/** The probe prints the first 64 bytes of what it reads, in hex: the whole secret fits. */
const SECRET_HEX = Buffer.from(SECRET).toString('hex');
/** The positive control: a file the probe opens itself, and the hex its first line starts with. */
const CONTROL_FILE = '/etc/passwd';
const CONTROL_HEX = Buffer.from('root:').toString('hex');
/** Readiness polls (100 ms each) for the server and its pools: a bound, not a stand-in for readiness. */
const POLLS = 600;
/** The runtimes of this file: microvm's VMM is launched through the same descriptor closer. */
const FD_RUNTIMES = [...RUNTIMES, 'microvm'] as const;
/** The host process each runtime's sandbox always has while it runs (argv[0]'s base name). */
const RUNTIME_PROCESS: Readonly<Record<SuiteRuntime, string>> = { namespace: 'bwrap', gvisor: 'runsc-sandbox', microvm: 'qemu-system-x86_64' };
/**
 * Host processes of a runtime's launch: each, and everything below it, belongs to a sandbox. The
 * controller's other helpers (ip, nft, mount tools, `runsc delete`) run no sandbox code. microvm:
 * the parked shell that waits for the cgroup move, the tap opener, QEMU.
 */
const LAUNCH_PROCESS = /^(bwrap|runsc-sandbox|runsc-gofer|runsc run|runsc .* run|airlock-agent|nsenter|setpriv|qemu-system-x86_64|airlock-tap-open|sh -c read -r _ )( |$)/;
/**
 * The control under test: the agent binary closing the inherited descriptors before it execs the
 * runtime. It necessarily holds them from its exec until its first action, and runs nothing else;
 * once it execs, its argv is the runtime's and it is looked at like any launch process.
 */
const FD_CLOSER = /^airlock-agent --close-fds-from /;

/**
 * The in-sandbox probe. Lines: `self <pid>`, `control <fd>`, `own <fd> <dev:ino> <link> <hex>`
 * (every descriptor 3..1023 of its own), `pid <pid>` (every visible process), `unlistable <pid>
 * <errno>`, `open <path> <link> <dev:ino> <hex>` (every /proc/<pid>/fd entry it could reopen),
 * `link <path> <link> E<errno>` (listed, not reopenable), `done`. Reads only, with pread (never
 * consuming a pipe), and nothing is written anywhere.
 */
const PROBE = String.raw`
import os
def head(fd):
    try: return os.pread(fd, 64, 0).hex() or '-'
    except OSError as e: return 'E%d' % e.errno
def ident(fd):
    st = os.fstat(fd); return '%d:%d' % (st.st_dev, st.st_ino)
def link_of(path):
    try: return os.readlink(path).replace(' ', '_')
    except OSError: return '?'
control = os.open('${CONTROL_FILE}', os.O_RDONLY)
print('self', os.getpid()); print('control', control)
for fd in range(3, 1024):
    try: i = ident(fd)
    except OSError: continue
    print('own', fd, i, link_of('/proc/self/fd/%d' % fd), head(fd))
for pid in sorted(int(p) for p in os.listdir('/proc') if p.isdigit()):
    print('pid', pid)
    base = '/proc/%d/fd' % pid
    try: fds = sorted(int(f) for f in os.listdir(base))
    except OSError as e:
        print('unlistable', pid, e.errno); fds = range(0, 1024)
    for fd in fds:
        path = '%s/%d' % (base, fd)
        link = link_of(path)
        try: h = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except OSError as e:
            if link != '?': print('link', path, link, 'E%d' % e.errno)
            continue
        try: print('open', path, link, ident(h), head(h))
        finally: os.close(h)
print('done')
`;
const PROBE_ARGV = ['python3', '-c', PROBE];

/** The secret on the host: a root-only file in a directory of its own. */
interface Secret {
  path: string;
  /** `dev:ino` as fstat reports it. */
  identity: string;
  /** Open in this process (close-on-exec, as Node opens everything); handed on only through stdio. */
  fd: number;
}

let secret: Secret | undefined;
let secretDir: string | undefined;

before(() => {
  secretDir = mkdtempSync(join(tmpdir(), 'airlock-inherited-fd-'));
  const path = join(secretDir, 'secret');
  writeFileSync(path, `${SECRET}\n`, { mode: 0o600 });
  const st = statSync(path);
  secret = { path, identity: `${st.dev}:${st.ino}`, fd: openSync(path, 'r') };
});

after(() => {
  if (secret !== undefined) closeSync(secret.fd);
  if (secretDir !== undefined) rmSync(secretDir, { recursive: true, force: true });
});

function theSecret(): Secret {
  if (secret === undefined) throw new Error('the secret file was not created (the before hook failed)');
  return secret;
}

/**
 * The controller's stdio: stdout and stderr piped, the secret on every number of INHERITED_FDS
 * (Node's spawn dup2s it there without close-on-exec, exactly as a shell's `exec N<file` would).
 */
function controllerStdio(): (IOType | number)[] {
  const highest = Math.max(...INHERITED_FDS);
  const stdio: (IOType | number)[] = ['ignore', 'pipe', 'pipe', ...Array.from({ length: highest - 2 }, () => 'ignore' as const)];
  for (const fd of INHERITED_FDS) stdio[fd] = theSecret().fd;
  return stdio;
}

/** Precondition, so the case can't pass vacuously: the controller really holds the secret. */
function assertControllerHolds(pid: number | undefined): void {
  assert.ok(pid !== undefined, 'the controller did not start');
  for (const fd of INHERITED_FDS) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch (err) {
      throw new assert.AssertionError({ message: `the controller does not hold descriptor ${fd}: ${(err as Error).message}` });
    }
    assert.equal(target, theSecret().path, `the controller's descriptor ${fd} is the secret`);
  }
}

/** Asserts the probe ran to the end, its control worked, and nothing it saw is the secret. */
function assertNoSecret(output: string, where: string): void {
  const lines = output.split('\n');
  assert.ok(lines.includes('done'), `${where}: the probe did not finish:\n${output.slice(0, 4000)}`);
  const self = /^self (\d+)$/m.exec(output)?.[1];
  const control = /^control (\d+)$/m.exec(output)?.[1];
  assert.ok(self !== undefined && control !== undefined, `${where}: the probe did not say who it is`);
  // The probe finds a readable descriptor where there is one: its own, and through /proc.
  const readsControl = (l: string, prefix: string) => l.startsWith(prefix) && (l.split(' ').at(-1) ?? '').startsWith(CONTROL_HEX);
  assert.ok(lines.some((l) => readsControl(l, `own ${control} `)), `${where}: the probe did not read its own control descriptor:\n${output.slice(0, 4000)}`);
  assert.ok(
    lines.some((l) => readsControl(l, `open /proc/${self}/fd/${control} `)),
    `${where}: the probe did not reopen its control descriptor through /proc:\n${output.slice(0, 4000)}`,
  );
  assert.ok(lines.filter((l) => l.startsWith('pid ')).length >= 1, `${where}: the probe saw no process`);
  const { path, identity } = theSecret();
  const leaks = lines.filter((l) => l.includes(SECRET_HEX) || l.includes(SECRET) || l.includes(path) || l.split(' ').includes(identity));
  assert.deepEqual(leaks, [], `${where}: sandbox code reached a descriptor the controller inherited`);
}

/** Runs the CLI's one-shot `run` with the secret inherited; resolves with its stdout once it exits. */
async function runCli(runtime: SuiteRuntime, configFile: string): Promise<string> {
  const child = spawn(process.execPath, ['bin/airlock.js', 'run', '--runtime', runtime, '--', ...PROBE_ARGV], {
    stdio: controllerStdio(),
    env: { ...process.env, AIRLOCK_CONFIG: configFile },
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
  try {
    // spawn() returns once the child exec'd: its descriptors are in place.
    assertControllerHolds(child.pid);
  } catch (e) {
    child.kill('SIGKILL');
    await closed;
    throw e;
  }
  const host = await watchHost(child.pid as number, closed);
  const code = await closed;
  assert.equal(code, 0, `airlock run exited ${code}:\n${err}\n${out.slice(0, 2000)}`);
  assertHostClean(host, runtime, 'airlock run');
  return out;
}

for (const runtime of FD_RUNTIMES) {
  runtimeCase(suite, runtime, `T8 (${runtime}) one-shot via the CLI: descriptors the controller inherited never reach the sandbox`, async () => {
    const configFile = writeConfigFile(withUnsignedLoopbackOperator(suite.config));
    assertNoSecret(await runCli(runtime, configFile), `airlock run --runtime ${runtime}`);
  });
}

/** A running `airlock serve`, started with the secret inherited. */
interface Server {
  child: ChildProcess;
  url: string;
  log: () => string;
}

describe('airlock serve started with an inherited descriptor', () => {
  let server: Server | undefined;
  /** Runtimes the server has a warm pool of (those available here). */
  const pooled = new Set<SuiteRuntime>();

  before(async () => {
    for (const runtime of FD_RUNTIMES) if ((await suite.runtime(runtime)).ok) pooled.add(runtime);
    if (pooled.size === 0) return;
    const pools = [...pooled].map((runtime) => ({ runtime, image: suite.config.defaultImage, size: 1, limits: {} }));
    const configFile = writeConfigFile(withUnsignedLoopbackOperator({ ...suite.config, service: { ...suite.config.service, pools } }));
    server = await startServer(configFile);
    assertControllerHolds(server.child.pid);
    for (const runtime of pooled) await poolReady(server, runtime);
  });

  after(async () => {
    if (server === undefined) return;
    const { child } = server;
    child.kill('SIGTERM');
    if (child.exitCode === null && child.signalCode === null) await new Promise((resolve) => child.once('close', resolve));
  });

  function theServer(): Server {
    if (server === undefined) throw new Error('the server did not start (see the before hook)');
    return server;
  }

  for (const runtime of FD_RUNTIMES) {
    runtimeCase(suite, runtime, `T8 (${runtime}) serve, execute request: descriptors the controller inherited never reach the sandbox`, async () => {
      const s = theServer();
      const request = post(s, '/api/v1/sandbox/execute', { runtime, agent_id: 'inherited-fds-test', command: PROBE_ARGV });
      const host = await watchHost(s.child.pid as number, request);
      const result = await request;
      assert.equal(result['exit_code'], 0, `execute: ${JSON.stringify(result).slice(0, 2000)}`);
      assertHostClean(host, runtime, 'serve execute');
      assertNoSecret(String(result['output']), `serve execute (${runtime})`);
    });

    runtimeCase(suite, runtime, `T8 (${runtime}) serve, warm-pool sandbox: descriptors the controller inherited never reach it`, async () => {
      const s = theServer();
      const info = await post(s, '/api/v1/sandboxes', { runtime });
      const id = String(info['sandbox_id']);
      try {
        assert.equal(info['pooled'], true, 'the sandbox came from the warm pool');
        assertNoSecret(await execIn(s, id), `serve pooled sandbox (${runtime})`);
        assertHostClean(scanHost(s.child.pid as number), runtime, 'serve pooled sandbox');
      } finally {
        await fetch(`${s.url}/api/v1/sandboxes/${id}`, { method: 'DELETE' });
      }
    });

    runtimeCase(suite, runtime, `T8 (${runtime}) serve, created sandbox: descriptors the controller inherited never reach it`, async () => {
      const s = theServer();
      // Other limits than the pool's: started for this request, not taken from the pool.
      const info = await post(s, '/api/v1/sandboxes', { runtime, limits: { scratch_mb: 32 } });
      const id = String(info['sandbox_id']);
      try {
        assert.equal(info['pooled'], false, 'the sandbox was started for this request');
        assertNoSecret(await execIn(s, id), `serve created sandbox (${runtime})`);
        assertHostClean(scanHost(s.child.pid as number), runtime, 'serve created sandbox');
      } finally {
        await fetch(`${s.url}/api/v1/sandboxes/${id}`, { method: 'DELETE' });
      }
    });
  }
});

async function startServer(configFile: string): Promise<Server> {
  const child = spawn(process.execPath, ['bin/airlock.js', 'serve', '--port', '0', '--config', configFile], { stdio: controllerStdio() });
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  for (let i = 0; i < POLLS; i++) {
    const match = /"address":"(http:\/\/[^"]+)"/.exec(log);
    if (match?.[1] !== undefined) return { child, url: match[1], log: () => log };
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`the server did not start:\n${log}`);
}

/** Waits until the runtime's warm pool holds a ready sandbox (the pool's own gauge says so). */
async function poolReady(server: Server, runtime: SuiteRuntime): Promise<void> {
  const ready = new RegExp(`^airlock_pool_ready_sandboxes\\{pool="${runtime}_[^"]*"\\} [1-9]`, 'm');
  for (let i = 0; i < POLLS; i++) {
    if (ready.test(await (await fetch(`${server.url}/metrics`)).text())) return;
    await sleep(100);
  }
  throw new Error(`the ${runtime} pool never filled:\n${server.log().slice(-4000)}`);
}

async function post(server: Server, path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.json()) as Record<string, unknown>;
  assert.ok(res.ok, `POST ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Runs the probe in a persistent sandbox; returns its stdout. */
async function execIn(server: Server, id: string): Promise<string> {
  const result = await post(server, `/api/v1/sandboxes/${id}/exec?stream=false`, { command: PROBE_ARGV });
  assert.equal(result['exit_code'], 0, `exec in ${id}: ${JSON.stringify(result).slice(0, 2000)}`);
  assert.equal(result['stdout_encoding'], 'utf8');
  assert.equal(result['stdout_truncated'], false, 'the probe output came back whole');
  return String(result['stdout']);
}

/** What a look at the host found below the controller: process names seen, and who held the secret. */
interface HostScan {
  names: Set<string>;
  holding: Set<string>;
}

/**
 * One look at every host process of a sandbox below `root` (a runtime launch or anything below one,
 * see LAUNCH_PROCESS): their names, and which hold the secret.
 */
function scanHost(root: number, into: HostScan = { names: new Set(), holding: new Set() }): HostScan {
  const parent = new Map<number, number>();
  const command = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // After "(comm) ": state, then ppid.
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      command.set(Number(entry), [basename(argv[0] ?? ''), ...argv.slice(1)].join(' '));
    } catch {
      // Exited meanwhile.
    }
  }
  // Below `root`, and itself or an ancestor (below `root`) is a runtime launch.
  const ofSandbox = (pid: number): boolean => {
    let launch = false;
    for (let p: number | undefined = pid, depth = 0; p !== undefined && depth < 64; p = parent.get(p), depth++) {
      if (p === root) return launch;
      if (LAUNCH_PROCESS.test(command.get(p) ?? '')) launch = true;
    }
    return false;
  };
  for (const pid of parent.keys()) {
    if (!ofSandbox(pid)) continue;
    const name = (command.get(pid) ?? '').split(' ')[0] ?? '';
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    into.names.add(name);
    if (FD_CLOSER.test(command.get(pid) ?? '')) continue;
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === theSecret().path) into.holding.add(`${name} (pid ${pid}) fd ${fd}`);
      } catch {
        // Closed or exited meanwhile.
      }
    }
  }
  return into;
}

/** Looks at the host again and again (every 20 ms) until `until` settles. */
async function watchHost(root: number, until: Promise<unknown>): Promise<HostScan> {
  let settled = false;
  void until.then(() => (settled = true), () => (settled = true));
  const scan: HostScan = { names: new Set(), holding: new Set() };
  while (!settled) {
    scanHost(root, scan);
    await sleep(20);
  }
  return scan;
}

/** The runtime's own host process was seen (so the look was not vacuous), and nothing held the secret. */
function assertHostClean(scan: HostScan, runtime: SuiteRuntime, where: string): void {
  const expected = RUNTIME_PROCESS[runtime];
  assert.ok(scan.names.has(expected), `${where} (${runtime}): ${expected} was never seen on the host below the controller (saw ${[...scan.names].join(', ')})`);
  assert.deepEqual([...scan.holding], [], `${where} (${runtime}): a host process the controller started holds the descriptor it inherited`);
}
