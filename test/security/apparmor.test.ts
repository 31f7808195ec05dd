/**
 * The AppArmor layer, on a host where AppArmor is active (the guest VM of test/hosts/; this file
 * skips elsewhere, saying why):
 *
 *   node test/hosts/run-in-guest.ts --profiles --images -- node --test test/security/apparmor.test.ts
 *
 * - both shipped profiles pass `apparmor_parser -Q` (the userns grant needs AppArmor 4: a todo on
 *   Debian 12's parser, whose own syntax is checked without that one rule);
 * - a namespace sandbox started through the real execution path runs under airlock-sandbox (enforce),
 *   and so does a persistent sandbox's agent (pid 1);
 * - with the seccomp filter left out (a test-only command line: the same builder, minus `--seccomp`),
 *   mounts, ptrace, raw and packet sockets and writes to id maps, /boot and /sys are refused by
 *   AppArmor alone: the same probe without the profile is not refused, and the kernel logs
 *   apparmor="DENIED" for each;
 * - a profile that can't be applied stops the command before it runs (fail closed).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { findExecutable } from '../../src/host/which.ts';
import { AGENT_SANDBOX_PATH, agentDirOf, ensureAgent } from '../../src/agent/build.ts';
import type { Readable } from 'node:stream';
import { stretched } from './lib/emulation.ts';
import { buildBwrapArgs } from '../../src/isolation/namespace/bwrap-args.ts';
import { exitOf } from '../../src/isolation/namespace/sandbox.ts';
import type { SandboxSpec } from '../../src/isolation/driver.ts';
import { APPARMOR_REFUSAL, checkSyntax, detectAppArmor, loadedProfiles, prepareConfinement, processLabel, renderBwrapUsernsProfile, renderSandboxProfile, SANDBOX_PROFILE } from '../../src/isolation/apparmor/index.ts';
import { availability, isolatedConfig, probeLimits, removeIsolatedState, runInSandbox, SANDBOX_ENV } from './lib/runtime.ts';
import { killOwnLeftovers } from './lib/host.ts';
import type { Ready } from './lib/suite.ts';

const state = detectAppArmor();
const SKIP = !state.enabled
  ? `AppArmor is not active here (${state.reason}); run it in the guest: node test/hosts/run-in-guest.ts --profiles --images -- node --test test/security/apparmor.test.ts`
  : process.getuid?.() !== 0
    ? 'loading AppArmor profiles needs root'
    : findExecutable('apparmor_parser') === undefined
      ? 'apparmor_parser is not installed'
      : false;

/** This file's own state, cgroup parent and uid range (no probe kit: nothing here compiles). */
const suite = { config: isolatedConfig() };
after(async () => {
  await killOwnLeftovers(suite.config);
  const problems = removeIsolatedState(suite.config);
  assert.deepEqual(problems, [], 'the test state is removed');
});

/** Each operation the profile refuses and seccomp would refuse too; prints one JSON line of errno per name (0: allowed). */
const PROBE = String.raw`
import ctypes, errno, json, os, socket
libc = ctypes.CDLL(None, use_errno=True)
out = {}
def call(name, fn):
    try:
        r = fn()
        out[name] = 0 if r is None or r >= 0 else ctypes.get_errno()
    except OSError as e:
        out[name] = e.errno
def raw(): socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
def packet(): socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()
os.makedirs('/tmp/m', exist_ok=True)
call('mount', lambda: libc.mount(b'none', b'/tmp/m', b'tmpfs', 0, None))
call('raw_socket', raw)
call('packet_socket', packet)
def trace():
    child = os.fork()
    if child == 0:
        import time; time.sleep(5); os._exit(0)
    r = libc.ptrace(16, child, None, None)  # PTRACE_ATTACH
    e = ctypes.get_errno()
    os.kill(child, 9); os.waitpid(child, 0)
    if r != 0: raise OSError(e, 'ptrace')
call('ptrace', trace)
def write(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600); os.close(fd)
call('uid_map', lambda: os.close(os.open('/proc/self/uid_map', os.O_WRONLY)))
call('boot', lambda: write('/boot/planted'))
call('sys', lambda: write('/sys/planted'))
call('proc_sys', lambda: write('/proc/sys/kernel/hostname'))
print(json.dumps(out))
`;

/** The operations the profile alone must refuse (each is allowed, or refused by another check, without it). */
const APPARMOR_ONLY = ['mount', 'raw_socket', 'packet_socket', 'ptrace', 'uid_map', 'boot', 'sys'] as const;

interface DirectRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `argv` under bwrap with the namespace tier's own arguments minus the seccomp filter (and the
 * controller's info/block handshake): the test-only way to see what AppArmor alone refuses. /boot
 * and /sys get writable tmpfs of their own, so no read-only mount or file mode refuses first.
 */
async function runWithoutSeccomp(ready: Ready, argv: string[], profile: string | undefined): Promise<DirectRun> {
  const config = suite.config;
  const agent = await ensureAgent(config);
  const spec: SandboxSpec = {
    id: `aa-${process.pid}`,
    image: ready.image,
    limits: probeLimits(config),
    env: { ...SANDBOX_ENV },
    mounts: [],
    workdir: '/tmp',
    network: { kind: 'isolated' },
  };
  const args = buildBwrapArgs({ spec, command: argv, mountFds: [], procMasks: [], ...(profile === undefined ? {} : { confinement: { profile, agentDir: agentDirOf(agent.path) } }) });
  const stripped = dropOptions(args, ['--seccomp', '--info-fd', '--block-fd']);
  // Test-only writable trees where the profile refuses writes: inserted before the command's `--`.
  const end = stripped.indexOf('--');
  stripped.splice(end, 0, '--perms', '1777', '--tmpfs', '/boot', '--perms', '1777', '--tmpfs', '/sys');
  const bwrap = findExecutable('bwrap');
  assert.ok(bwrap !== undefined, 'bwrap is installed');
  const uid = config.hostUidBase + 1;
  return new Promise((resolve, reject) => {
    const child = spawn(bwrap, stripped, { uid, gid: uid, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `args` without each named option and its value (they come before the command's `--`). */
function dropOptions(args: string[], names: readonly string[]): string[] {
  const end = args.indexOf('--');
  const out: string[] = [];
  for (let i = 0; i < end; i++) {
    if (names.includes(args[i] as string)) {
      i++;
      continue;
    }
    out.push(args[i] as string);
  }
  assert.ok(!out.includes('--seccomp'), 'the seccomp filter is left out');
  return [...out, ...args.slice(end)];
}

/** The operations of the kernel log's apparmor="DENIED" lines for `profile` (dmesg), in order. */
function deniedOperations(profile: string): string[] {
  return execFileSync('dmesg', [], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    .split('\n')
    .filter((line) => line.includes('apparmor="DENIED"') && line.includes(`profile="${profile}"`))
    .map((line) => /operation="([^"]+)"/.exec(line)?.[1] ?? '?');
}

describe('AppArmor', { skip: SKIP }, () => {
  let ready: Ready;
  before(async () => {
    const avail = await availability('namespace', suite.config);
    if (!avail.ok) throw new Error(avail.reason);
    ready = avail;
    // Loads (replaces) the profile exactly as the driver does on its first start.
    assert.deepEqual(await prepareConfinement(undefined), { profile: SANDBOX_PROFILE });
  });

  test('apparmor_parser -Q accepts the sandbox profile, and it is loaded in enforce mode', async () => {
    assert.equal(await checkSyntax(renderSandboxProfile()), undefined);
    assert.equal(loadedProfiles(state).get(SANDBOX_PROFILE), 'enforce');
  });

  test('apparmor_parser -Q accepts the Ubuntu userns grant', async (t) => {
    const grant = renderBwrapUsernsProfile('/usr/bin/bwrap');
    // Everything but the AppArmor 4 rule parses on any parser (attachment, flags, braces).
    const withoutUserns = grant.replace('abi <abi/4.0>,', 'abi <abi/3.0>,').replace('  userns,\n', '');
    assert.equal(await checkSyntax(withoutUserns), undefined);
    await t.test('with its userns rule', { todo: parserMajor() < 4 ? `apparmor_parser ${parserMajor()}.x has no userns rule (AppArmor 4.0+: Ubuntu 23.10+, Debian 13)` : false }, async () => {
      assert.equal(await checkSyntax(grant), undefined);
    });
  });

  test('a namespace sandbox runs under airlock-sandbox in enforce mode', async () => {
    const result = await runInSandbox(ready, suite.config, ['cat', '/proc/self/attr/current']);
    assert.equal(result.exit_code, 0, result.error ?? result.output);
    assert.equal(result.output.trim(), `${SANDBOX_PROFILE} (enforce)`);
  });

  test('a persistent sandbox\'s agent (pid 1) and what it runs are under the profile', async () => {
    const agent = await ensureAgent(suite.config);
    const sandbox = await ready.driver.create({ id: `aa-p-${process.pid}`, image: ready.image, limits: probeLimits(suite.config), env: { ...SANDBOX_ENV }, mounts: [], workdir: '/tmp', network: { kind: 'isolated' }, agentDir: agentDirOf(agent.path) });
    try {
      const proc = await sandbox.start({ argv: [AGENT_SANDBOX_PATH], stdin: true });
      // The agent's first frame (READY) means it runs: the exec into it is done.
      assert.ok(await firstOutput(proc.stdout, stretched(30_000)), 'the agent ended before its first frame');
      const pid = sandbox.networkPid();
      assert.ok(pid !== undefined);
      assert.equal(processLabel(pid), `${SANDBOX_PROFILE} (enforce)`);
      proc.stdin?.end();
      await proc.exit;
    } finally {
      await sandbox.destroy();
    }
  });

  test('with seccomp off, AppArmor alone refuses mounts, ptrace, raw and packet sockets and kernel-path writes', async () => {
    const argv = ['python3', '-c', PROBE];
    const bare = await runWithoutSeccomp(ready, argv, undefined);
    assert.equal(bare.code, 0, bare.stderr);
    const without = JSON.parse(bare.stdout) as Record<string, number>;
    const logged = deniedOperations(SANDBOX_PROFILE).length;
    const conf = await runWithoutSeccomp(ready, argv, SANDBOX_PROFILE);
    assert.equal(conf.code, 0, conf.stderr);
    const confined = JSON.parse(conf.stdout) as Record<string, number>;
    for (const op of APPARMOR_ONLY) {
      // AppArmor answers EACCES; without it the same call succeeds or fails otherwise (EPERM: no capability).
      assert.equal(confined[op], 13, `${op} under the profile: errno ${confined[op]} (without it: ${without[op]})`);
      assert.notEqual(without[op], 13, `${op} without the profile is refused too (errno 13): the test would prove nothing`);
    }
    assert.notEqual(confined['proc_sys'], 0, '/proc/sys stays unwritable');
    // The kernel says who refused: one DENIED line per refusal, naming the profile.
    const denied = new Set(deniedOperations(SANDBOX_PROFILE).slice(logged));
    for (const op of ['mount', 'ptrace', 'create', 'open', 'mknod']) assert.ok(denied.has(op), `no apparmor="DENIED" operation="${op}" line (saw: ${[...denied].join(', ')})`);
  });

  test('a profile that cannot be applied stops the command before it runs', async () => {
    const run = await runWithoutSeccomp(ready, ['sh', '-c', 'echo RAN'], 'airlock-no-such-profile');
    assert.equal(run.code, 126);
    assert.ok(run.stderr.startsWith(APPARMOR_REFUSAL), run.stderr);
    assert.doesNotMatch(run.stdout, /RAN/);
    assert.match(exitOf(run.code, null, run.stderr).setupError ?? '', /^apparmor: cannot confine the command in profile airlock-no-such-profile/);
  });
});

/**
 * Whether `stream` gives any output before it ends; rejects after `ms`. Why not once('readable'):
 * a stream that ended before the listener was added never emits again, and the test would hang.
 */
function firstOutput(stream: Readable, ms: number): Promise<boolean> {
  if (stream.readableEnded) return Promise.resolve(false);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no output and no end within ${ms} ms`)), ms);
    const done = (value: boolean) => {
      clearTimeout(timer);
      resolve(value);
    };
    stream.once('data', () => done(true));
    stream.once('end', () => done(false));
    stream.once('close', () => done(false));
  });
}

/** The major version of the installed apparmor_parser. */
function parserMajor(): number {
  const parser = findExecutable('apparmor_parser');
  if (parser === undefined) return 0;
  return Number(/version (\d+)\./i.exec(execFileSync(parser, ['--version'], { encoding: 'utf8' }))?.[1] ?? 0);
}
