/**
 * The `microvm` runtime on real QEMU (TCG here: no usable KVM), with Debian's cloud kernel and the
 * host's default image. Skipped, with the reason, where this host can't (not root, no QEMU, no
 * mkfs.erofs, no image, no kernel package from apt); never passes without booting a guest.
 *
 * Each case boots its own guest (about 3-5 s under TCG); the first boot's case also checks the
 * VMM from the host while the guest runs, so one boot serves both.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, openSync, closeSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, truncateSync, writeFileSync, mkdtempSync, chmodSync, mkdirSync, symlinkSync } from 'node:fs';
import type { Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import type { Image } from '../../src/images/image.ts';
import type { Limits, SandboxDenial, SandboxSpec } from '../../src/isolation/driver.ts';
import { MicrovmDriver, type MicrovmSandbox } from '../../src/isolation/microvm/index.ts';
import { ensureGuestKernel } from '../../src/isolation/microvm/kernel.ts';
import { defaultInitramfsInputs, ensureInitramfs } from '../../src/isolation/microvm/initramfs.ts';
import { ensureRootImage } from '../../src/isolation/microvm/rootfs.ts';
import { detectAccel, hostTscKhz, qemuArgs, QEMU_BINARY, vmSizes, VMM_FD } from '../../src/isolation/microvm/qemu.ts';
import { handshake, handshakeBytes } from '../../src/isolation/microvm/channel.ts';
import { discardSnapshot } from '../../src/isolation/microvm/snapshot.ts';
import { findGuestRam } from '../../src/forensics/guest-ram.ts';
import { executeOnce } from '../../src/sandbox/execute.ts';
import { NetworkManager } from '../../src/network/manager.ts';
import { processesInUidRange } from '../security/lib/host.ts';
import { microvmSkipReason } from './lib/gate.ts';
import { isolatedConfig, writeConfigFile } from '../security/lib/isolated-config.ts';
import { grantSkipReason, removeIsolatedState } from '../security/lib/runtime.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { SandboxService } from '../../src/sandbox/service.ts';
import { policyDirOf, readBundleHash } from '../../src/policy/bundle-files.ts';
import { RuntimeField } from '../../src/api/schemas.ts';

const config = isolatedConfig();
const driver = new MicrovmDriver({ config });
const LIMITS: Limits = { memoryMb: 128, cpuCores: 1, pids: 64, timeoutSeconds: 60, scratchMb: 16, outputBytes: 1 << 20, openFiles: 256 };

const [skip, image] = await microvmSkipReason(config);

after(() => {
  const problems = removeIsolatedState(config);
  if (problems.length > 0) process.stderr.write(`microvm test cleanup: ${problems.join('; ')}\n`);
});

function spec(id: string, limits: Partial<Limits> = {}): SandboxSpec {
  return { id, image: image as Image, limits: { ...LIMITS, ...limits }, env: { PATH: '/usr/bin:/bin' }, mounts: [], workdir: '/tmp', network: { kind: 'isolated' } };
}

function collect(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
    stream.on('end', () => resolve(text));
  });
}

/** The kernel's flags (smaps VmFlags) of the VMM's mapping of the guest RAM: `mg` mergeable by KSM, `dd` left out of core dumps. */
function guestRamFlags(sandbox: MicrovmSandbox): string[] {
  const { guestRam } = sandbox.forensicAccess();
  assert.ok(guestRam?.pid !== undefined, 'the VMM is running');
  const found = findGuestRam(readFileSync(`/proc/${guestRam.pid}/maps`, 'utf8'), guestRam.bytes);
  assert.ok('start' in found, 'reason' in found ? found.reason : '');
  const block = readFileSync(`/proc/${guestRam.pid}/smaps`, 'utf8').split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/).find((b) => b.startsWith(found.line.split(' ')[0] as string));
  return /^VmFlags:(.*)$/m.exec(block ?? '')?.[1]?.trim().split(/\s+/) ?? [];
}

/** Asserts what no guest RAM may be: merged with another guest's, or written into a core dump. */
function assertGuestRamPrivate(sandbox: MicrovmSandbox): void {
  const flags = guestRamFlags(sandbox);
  assert.ok(!flags.includes('mg'), `the guest RAM is not offered to KSM: ${flags.join(' ')}`);
  assert.ok(flags.includes('dd'), `the guest RAM stays out of the VMM's core dumps: ${flags.join(' ')}`);
}

/** What sandbox `id` (host cgroup dirs `cgroupDirs`) could have left on the host. */
function leftovers(id: string, cgroupDirs: readonly string[]): string[] {
  const found = [...processesInUidRange(config)];
  for (const dir of cgroupDirs) if (existsSync(dir)) found.push(`cgroup ${dir}`);
  if (existsSync(`${config.runDir}/microvm/${id}`)) found.push(`run dir ${config.runDir}/microvm/${id}`);
  for (const sub of ['uids', 'owners']) {
    const dir = `${config.runDir}/${sub}`;
    for (const name of existsSync(dir) ? readdirSync(dir) : []) found.push(`${sub}/${name}`);
  }
  return found;
}

describe('microvm runtime (QEMU microvm)', { skip }, () => {
  it('runs a one-shot command (output, exit code) with the VMM under the host floor, and leaves nothing', async () => {
    const id = `mvm-${process.pid}-a`;
    const sandbox = (await driver.create(spec(id))) as MicrovmSandbox;
    const cgroupDirs = sandbox.forensicAccess().cgroup.uniqueDirs;
    try {
      const proc = await sandbox.start({ argv: ['sh', '-c', 'echo hi; id -u; echo oops >&2; sleep 2; exit 3'], stdin: false });
      const [stdout, stderr] = [collect(proc.stdout), collect(proc.stderr)];
      const pid = sandbox.vmmPid as number;
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const uids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status)?.slice(1).map(Number) ?? [];
      assert.equal(new Set(uids).size, 1, `one uid for real, effective, saved and fs: ${uids.join(' ')}`);
      assert.ok((uids[0] as number) >= config.hostUidBase && (uids[0] as number) < config.hostUidBase + config.hostUidCount, `VMM uid ${uids[0]} is a leased sandbox uid`);
      assert.match(status, /^Seccomp:\s+2$/m, 'QEMU runs under its seccomp filter (mode 2)');
      assert.match(status, /^NoNewPrivs:\s+1$/m);
      assert.match(status, /^CapEff:\s+0+$/m);
      assert.match(status, /^CapBnd:\s+0+$/m);
      assert.notEqual(readlinkSync(`/proc/${pid}/ns/net`), readlinkSync('/proc/self/ns/net'), 'the VMM has a network namespace of its own');
      assert.ok(readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(`${config.cgroupParent}/${id}`), 'the VMM is in the sandbox cgroup');
      assertGuestRamPrivate(sandbox);
      // A guest booting under TCG runs without transparent huge pages; a restored one keeps them (sandbox.ts launch).
      if (sandbox.accelerator === 'tcg' && sandbox.startsFrom !== 'snapshot') assert.match(status, /^THP_enabled:\s+0$/m);
      if (sandbox.accelerator === 'tcg' && sandbox.startsFrom === 'snapshot' && existsSync('/sys/kernel/mm/transparent_hugepage')) assert.match(status, /^THP_enabled:\s+1$/m);
      // A VMM that captured a snapshot also has the (by now empty) directory it sent it through (snapshot.ts).
      const capturing = sandbox.startsFrom === 'boot, capturing a snapshot';
      assert.deepEqual(readdirSync(`/proc/${pid}/root`).sort(), ['bin', 'dev', 'lib', 'lib64', 'proc', 'sbin', 'usr', ...(capturing ? ['snapshot'] : [])].filter((n) => existsSync(`/proc/${pid}/root/${n}`)).sort(), 'the VMM sees a root of its own');
      if (capturing) {
        assert.deepEqual(readdirSync(`/proc/${pid}/root/snapshot`), [], 'nothing is left in the capture\'s socket directory');
        assert.ok(!existsSync(`${config.runDir}/microvm/${id}/snapshot`), 'the socket directory was removed on the host once the capture was over');
        // As the VMM's uid, inside its root: a removed directory takes no new file.
        const write = spawnSync('nsenter', ['-t', String(pid), '-m', '-S', String(uids[0]), '-G', String(uids[0]), '--', '/usr/bin/touch', '/snapshot/x'], { encoding: 'utf8' });
        assert.notEqual(write.status, 0, 'the VMM can not create a file in the capture\'s socket directory');
        assert.match(write.stderr, /No such file or directory/);
      }
      for (const hidden of ['etc', 'home', 'var', 'tmp', 'run', 'root']) assert.ok(!existsSync(`/proc/${pid}/root/${hidden}`), `no /${hidden} for the VMM`);
      assert.ok(existsSync(`/proc/${pid}/root/usr/bin`), 'its /usr is there');
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      assert.ok(!argv.some((a) => a.startsWith('/') && !a.startsWith('/proc/self/fd/') && !a.startsWith('/dev/fdset/') && a !== QEMU_BINARY), `no host path on the VMM's command line: ${argv.filter((a) => a.startsWith('/')).join(' ')}`);
      const exit = await proc.exit;
      assert.deepEqual(exit, { code: 3, signal: null });
      assert.equal(await stdout, 'hi\n65534\n');
      assert.equal(await stderr, 'oops\n');
      const stats = await sandbox.stats();
      assert.equal(stats.oomKills, 0);
      assert.ok(stats.cpuNanos > 0, 'CPU time measured from the host cgroup');
    } finally {
      await sandbox.destroy();
    }
    assert.deepEqual(leftovers(id, cgroupDirs), []);
  });

  it('a memory hog in the guest ends as memory_limit, a full scratch as scratch_limit, a command past its time as timeout (through executeOnce)', async () => {
    const network = new NetworkManager({ config });
    try {
      const run = (argv: string[], limits: Partial<Limits>) =>
        executeOnce({ image: image as Image, limits: { ...LIMITS, ...limits }, env: { PATH: '/usr/bin:/bin' }, mounts: [], workdir: '/tmp', argv }, { driver, network, policyHash: 'sha256:microvm-test' });
      // Why tail: it keeps the whole "line" of /dev/zero in memory, growing until the limit.
      const hog = await run(['tail', '/dev/zero'], { memoryMb: 64 });
      assert.equal(hog.termination_reason, 'memory_limit', JSON.stringify({ reason: hog.termination_reason, error: hog.error, exit: hog.exit_code }));
      assert.equal(hog.runtime_used, 'microvm');
      // The result says what ran the guest: under TCG it is emulated, and much slower.
      assert.equal(hog.accelerator, detectAccel().accel);
      // The guest's OOM killer took the command and the agent reported it: the VMM itself lived on.
      assert.equal(hog.exit_code, 137, JSON.stringify({ exit: hog.exit_code, error: hog.error }));
      const fill = await run(['sh', '-c', 'head -c 20000000 /dev/zero > /tmp/big'], { scratchMb: 16 });
      assert.equal(fill.termination_reason, 'scratch_limit', JSON.stringify({ reason: fill.termination_reason, error: fill.error, exit: fill.exit_code }));
      const slow = await run(['sleep', '60'], { timeoutSeconds: 2 });
      assert.equal(slow.termination_reason, 'timeout', JSON.stringify({ reason: slow.termination_reason, error: slow.error }));
      assert.ok(slow.execution_time_seconds < 30, `stopped at its timeout, not at the command's end (${slow.execution_time_seconds} s)`);
    } finally {
      await network.close();
    }
    assert.deepEqual(processesInUidRange(config), []);
    assert.deepEqual(readdirSync(`${config.runDir}/microvm`), []);
  });

  it('a VMM that dies while the guest boots fails the start, naming the runtime and why', async () => {
    const id = `mvm-${process.pid}-die`;
    const sandbox = await driver.create(spec(id));
    const cgroup = sandbox.forensicAccess?.().cgroup;
    const cgroupDirs = cgroup?.uniqueDirs ?? [];
    try {
      const starting = sandbox.start({ argv: ['true'], stdin: false });
      starting.catch(() => undefined);
      let qemu: number | undefined;
      for (let i = 0; i < 400 && qemu === undefined; i++) {
        qemu = cgroup?.pids().find((pid) => {
          try {
            return readlinkSync(`/proc/${pid}/exe`) === QEMU_BINARY;
          } catch {
            return false;
          }
        });
        if (qemu === undefined) await sleep(10);
      }
      assert.ok(qemu !== undefined, 'QEMU appeared in the sandbox cgroup');
      process.kill(qemu, 'SIGKILL');
      await assert.rejects(starting, /^ControlError: microvm: the VMM exited \(.*\) before the guest was ready/);
    } finally {
      await sandbox.destroy();
    }
    // A VMM killed while it restored says nothing against its snapshot: that stays.
    if ((sandbox as MicrovmSandbox).startsFrom === 'snapshot') assert.ok(readdirSync(`${config.stateDir}/microvm/snapshot`).some((n) => n.endsWith('.vmstate')), 'the snapshot was kept');
    assert.deepEqual(leftovers(id, cgroupDirs), []);
  });

  it('a guest refuses a channel peer without the per-boot secret', async () => {
    const kernel = await ensureGuestKernel(config.stateDir, new Map());
    const initrd = await ensureInitramfs(config.stateDir, await defaultInitramfsInputs(config.stateDir, kernel), new Map(), new Map());
    const root = await ensureRootImage(config.stateDir, image as Image, new Map());
    const dir = mkdtempSync('/tmp/airlock-microvm-secret-');
    chmodSync(dir, 0o700);
    writeFileSync(`${dir}/secret`, randomBytes(32), { mode: 0o400 });
    const fds = [root, kernel.vmlinuz, initrd, `${dir}/secret`].map((p) => openSync(p, 'r'));
    const accel = detectAccel().accel;
    const qemu = spawn(QEMU_BINARY, qemuArgs(accel, vmSizes(64, 1), accel === 'tcg' ? hostTscKhz() : undefined), { stdio: ['ignore', 'pipe', 'pipe', 'ignore', 'pipe', ...fds] });
    for (const fd of fds) closeSync(fd);
    let consoleText = '';
    qemu.stdout?.on('data', (c: Buffer) => (consoleText += c.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => qemu.once('close', (code) => resolve(code)));
    try {
      const never = new Promise<string>(() => undefined);
      // A different 32 bytes than the file QEMU exposed to this guest.
      await assert.rejects(handshake(qemu.stdio[VMM_FD.control] as Socket, handshakeBytes(randomBytes(32), LIMITS), never), /refused the control channel secret/);
      assert.equal(await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 20_000).unref())]), 0, `the guest powered off (console: ${consoleText.slice(-300)})`);
      assert.match(consoleText, /wrong channel secret: refused/);
    } finally {
      qemu.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a persistent sandbox from a warm pool through the service: state kept across execs, files, kill', async () => {
    let full: () => void = () => undefined;
    const filled = new Promise<void>((resolve) => (full = resolve));
    const service = new SandboxService({
      config: { ...config, service: { ...config.service, pools: [{ runtime: 'microvm', image: config.defaultImage, size: 1, limits: { memoryMb: 128 } }] } },
      policyBundleHash: await readBundleHash(policyDirOf(config.policy)),
      observer: { poolChanged: (_key, n) => n >= 1 && full() },
    });
    const started = await service.start();
    assert.deepEqual(started.poolErrors, []);
    try {
      assert.equal(await Promise.race([filled.then(() => 'full'), sleep(60_000, 'timeout', { ref: false })]), 'full', 'the pool booted its VM');
      const info = await service.create({ runtime: 'microvm', limits: { memoryMb: 128 }, metadata: {}, env: { GREETING: 'hello' }, mounts: [] });
      assert.equal(info.state, 'running');
      assert.equal(info.pooled, true);
      assert.equal(info.accelerator, detectAccel().accel);
      const exec = async (argv: string[]) => {
        const session = await service.exec(info.sandbox_id, { argv, env: {}, stdin: false, timeoutMs: 30_000 });
        let out = '';
        session.onStdout((c) => (out += c.toString()));
        return { result: await session.result, text: () => out };
      };
      const first = await exec(['sh', '-c', 'echo "$GREETING" > /tmp/state; exit 4']);
      assert.equal(first.result.exit_code, 4);
      const second = await exec(['cat', '/tmp/state']);
      assert.equal(second.text(), 'hello\n');
      await service.writeFile(info.sandbox_id, '/tmp/f.txt', Buffer.from('data'));
      assert.equal((await service.readFile(info.sandbox_id, '/tmp/f.txt')).toString(), 'data');
      await service.kill(info.sandbox_id);
    } finally {
      await service.shutdown();
    }
    assert.deepEqual(processesInUidRange(config), []);
    assert.deepEqual(readdirSync(`${config.runDir}/microvm`), []);
  });

  it('a controller killed with -9 takes its VMs with it, and the reaper clears what they left', async () => {
    const id = `mvm-${process.pid}-crash`;
    const file = writeConfigFile(config);
    const child = spawn(process.execPath, [new URL('./crash-child.ts', import.meta.url).pathname, file, id], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      let text = '';
      child.stdout.on('data', (c: Buffer) => {
        text += c.toString();
        if (text.includes('\n')) resolve(text.trim());
      });
      child.once('exit', (code) => reject(new Error(`the controller exited early (${code})`)));
    });
    const vmm = Number(line.split(' ')[1]);
    assert.ok(existsSync(`/proc/${vmm}`), 'the VMM runs before the controller dies');
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    // Why a wait: the kernel delivers the parent-death signal as the controller's exit completes.
    for (let i = 0; i < 200 && existsSync(`/proc/${vmm}`); i++) await sleep(25);
    assert.ok(!existsSync(`/proc/${vmm}`), `the VMM died with its controller: ${existsSync(`/proc/${vmm}`) ? readFileSync(`/proc/${vmm}/status`, 'utf8').split('\n').slice(0, 3).join(' ') : ''}`);
    assert.deepEqual(await driver.reapStale(), [id]);
    assert.deepEqual(leftovers(id, []), []);
  });

  it('secrets are 0400 files of the sandbox user on a read-only guest tmpfs, the trust bundle a read-only file over the image\'s', async () => {
    const value = randomBytes(24).toString('hex');
    const bundle = `-----BEGIN CERTIFICATE-----\n${randomBytes(30).toString('base64')}\n-----END CERTIFICATE-----\n`;
    const probe = [
      'cd /run/secrets && stat -c "%a %u %g %n" . && stat -c "%a %u %g %s %n" api_key empty_key && ls -A && cat api_key && echo',
      'grep " /run/secrets " /proc/mounts',
      '(echo x > /run/secrets/api_key) 2>/dev/null && echo WRITABLE; (touch /run/secrets/new) 2>/dev/null && echo CREATABLE',
      'stat -c "%a %u" /etc/ssl/certs/ca-certificates.crt; cat /etc/ssl/certs/ca-certificates.crt',
      '(echo x >> /etc/ssl/certs/ca-certificates.crt) 2>/dev/null && echo BUNDLE-WRITABLE; true',
    ].join('; ');
    const id = `mvm-${process.pid}-s`;
    const secrets = [{ name: 'api_key', bytes: () => Buffer.from(value) }, { name: 'empty_key', bytes: () => Buffer.alloc(0) }];
    const sandbox = await driver.create({ ...spec(id), secrets, trustBundle: bundle });
    try {
      const proc = await sandbox.start({ argv: ['sh', '-c', probe], stdin: false });
      const [stdout, stderr] = [collect(proc.stdout), collect(proc.stderr)];
      const exit = await proc.exit;
      const out = await stdout;
      assert.equal(exit.code, 0, `${out}\n${await stderr}`);
      const lines = out.split('\n');
      assert.deepEqual(lines.slice(0, 3), ['500 65534 65534 .', `400 65534 65534 ${value.length} api_key`, '400 65534 65534 0 empty_key']);
      assert.deepEqual(lines.slice(3, 5), ['api_key', 'empty_key'], 'only the given secrets are listed');
      assert.equal(lines[5], value);
      assert.match(lines[6] ?? '', /^secrets \/run\/secrets tmpfs ro,nosuid,nodev,noexec,/, 'a read-only tmpfs of its own');
      assert.ok(!out.includes('WRITABLE') && !out.includes('CREATABLE'), out);
      assert.equal(lines[7], '444 0');
      assert.equal(lines.slice(8).join('\n'), `${bundle}`);
    } finally {
      await sandbox.destroy();
    }
    // Without secrets there is no /run/secrets at all, as on every tier.
    const bare = await driver.create(spec(`${id}2`));
    try {
      const proc = await bare.start({ argv: ['sh', '-c', 'test -e /run/secrets && echo PRESENT; echo done'], stdin: false });
      const out = collect(proc.stdout);
      proc.stderr.resume();
      await proc.exit;
      assert.equal(await out, 'done\n');
    } finally {
      await bare.destroy();
    }
    assert.deepEqual(leftovers(id, []), []);
  });

  it('grants: virtio-fs shares served as the VMM\'s uid; read-only ones refuse writes, writable ones plant no set-id bits on the host', { skip: grantSkipReason('microvm') }, async () => {
    const base = mkdtempSync('/tmp/airlock-microvm-grants-');
    chmodSync(base, 0o755);
    const ro = `${base}/ro`;
    const rw = `${base}/rw`;
    mkdirSync(ro, { mode: 0o755 });
    mkdirSync(rw, { mode: 0o777 });
    chmodSync(rw, 0o777);
    writeFileSync(`${ro}/data.txt`, 'read me\n', { mode: 0o644 });
    writeFileSync(`${base}/one.conf`, 'one file\n', { mode: 0o644 });
    // A link planted in a share points into the guest's own tree, never the host's.
    symlinkSync('/etc/hostname', `${ro}/link`);
    const probe = [
      'cat /data/ro/data.txt /etc/airlock-one.conf',
      '(echo x > /data/ro/new) 2>/dev/null && echo RO-WRITABLE',
      '(echo x >> /etc/airlock-one.conf) 2>/dev/null && echo FILE-WRITABLE',
      'echo made > /tmp/work/out.txt && mkdir /tmp/work/sub && stat -c "%a %u" /tmp/work/out.txt',
      'chmod 4755 /tmp/work/out.txt 2>/dev/null && echo SETUID-ALLOWED',
      'grep -E " /data/ro | /tmp/work | /etc/airlock-one.conf " /proc/mounts | cut -d" " -f2-4 | sort',
      'readlink /data/ro/link',
    ].join('; ');
    const id = `mvm-${process.pid}-g`;
    const mounts = [
      { hostPath: ro, sandboxPath: '/data/ro', writable: false },
      { hostPath: rw, sandboxPath: '/tmp/work', writable: true },
      { hostPath: `${base}/one.conf`, sandboxPath: '/etc/airlock-one.conf', writable: false },
    ];
    try {
      const sandbox = (await driver.create({ ...spec(id), mounts })) as MicrovmSandbox;
      let uid: number | undefined;
      try {
        const proc = await sandbox.start({ argv: ['sh', '-c', probe], stdin: false });
        const [stdout, stderr] = [collect(proc.stdout), collect(proc.stderr)];
        uid = statSync(`/proc/${sandbox.vmmPid}`).uid;
        // Shared with the file servers (a memfd), and still neither mergeable nor dumped.
        assertGuestRamPrivate(sandbox);
        // Each file server's socket directory is gone from the host once QEMU was connected (socket-dir.ts).
        assert.deepEqual(readdirSync(`${config.runDir}/microvm/${id}`).filter((n) => /^fs\d+$/.test(n)), [], 'no file server socket directory is left');
        const exit = await proc.exit;
        const out = await stdout;
        assert.equal(exit.code, 0, `${out}\n${await stderr}`);
        const lines = out.split('\n');
        assert.deepEqual(lines.slice(0, 3), ['read me', 'one file', '644 65534'], out);
        assert.ok(!/WRITABLE|SETUID-ALLOWED/.test(out), out);
        assert.deepEqual(lines.slice(3, 6).map((l) => l.split(',').slice(0, 3).join(',')), ['/data/ro virtiofs ro,nosuid,nodev', '/etc/airlock-one.conf virtiofs ro,nosuid,nodev', '/tmp/work virtiofs rw,nosuid,nodev'], out);
        assert.equal(lines[6], '/etc/hostname');
      } finally {
        await sandbox.destroy();
      }
      // On the host: the guest's files exist, written as the VMM's uid, with no set-id bit.
      const out = statSync(`${rw}/out.txt`);
      assert.equal(readFileSync(`${rw}/out.txt`, 'utf8'), 'made\n');
      assert.equal(out.uid, uid, 'written as the VMM\'s uid');
      assert.equal(out.mode & 0o7777, 0o644);
      assert.equal(statSync(`${rw}/sub`).mode & 0o7777, 0o755);
      assert.equal(statSync(`${rw}/sub`).uid, uid);
      assert.deepEqual(readdirSync(ro).sort(), ['data.txt', 'link'], 'nothing written to the read-only share');
      assert.equal(readFileSync(`${base}/one.conf`, 'utf8'), 'one file\n');
      assert.deepEqual(leftovers(id, []), []);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('grants the VMM\'s uid could not open, and nested grants, are refused before anything exists', async () => {
    const base = mkdtempSync('/tmp/airlock-microvm-deny-');
    chmodSync(base, 0o700);
    mkdirSync(`${base}/inner`);
    try {
      await assert.rejects(driver.create({ ...spec(`mvm-${process.pid}-d`), mounts: [{ hostPath: `${base}/inner`, sandboxPath: '/data', writable: false }] }), /filesystem_access/);
      await assert.rejects(
        driver.create({ ...spec(`mvm-${process.pid}-e`), mounts: [{ hostPath: '/usr/share', sandboxPath: '/data', writable: false }, { hostPath: '/usr/lib', sandboxPath: '/data/lib', writable: false }] }),
        /filesystem_access: \/data\/lib is inside the grant at \/data: the microvm runtime does not nest grants/,
      );
      assert.deepEqual(leftovers('none', []), []);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('calls the guest\'s seccomp filter refuses are reported, every one of them before the command\'s exit', async () => {
    const id = `mvm-${process.pid}-y`;
    const denials: SandboxDenial[] = [];
    // acct(2) three times (refused with EPERM by the filter), then a call it allows.
    const code = 'import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nfor _ in range(3):\n    print(libc.syscall(163, None), ctypes.get_errno())\nprint(os.getpid() > 0)\n';
    const sandbox = await driver.create({ ...spec(id), onSeccompDenial: (d) => denials.push(d) });
    try {
      const proc = await sandbox.start({ argv: ['python3', '-c', code], stdin: false });
      const [stdout, stderr] = [collect(proc.stdout), collect(proc.stderr)];
      const exit = await proc.exit;
      const seen = denials.length;
      assert.equal(exit.code, 0, await stderr);
      assert.equal(await stdout, '-1 1\n-1 1\n-1 1\nTrue\n', 'refused with EPERM');
      assert.equal(seen, 3, `reported before the exit: ${JSON.stringify(denials)}`);
      assert.ok(denials.every((d) => d.syscall === 'acct' && d.syscallNr === 163 && d.pid > 1), JSON.stringify(denials));
    } finally {
      await sandbox.destroy();
    }
    assert.deepEqual(leftovers(id, []), []);
  });

  it('a secret that cannot be read stops the start before the VM boots, naming the secret', async () => {
    const id = `mvm-${process.pid}-u`;
    const sandbox = await driver.create({ ...spec(id), secrets: [{ name: 'gone_key', bytes: (): Buffer => { throw new Error('the provider went away'); } }] });
    try {
      await assert.rejects(sandbox.start({ argv: ['true'], stdin: false }), /secret gone_key: its value could not be read: the provider went away/);
      assert.equal((sandbox as MicrovmSandbox).vmmPid, undefined, 'no VMM was started');
    } finally {
      await sandbox.destroy();
    }
    assert.deepEqual(leftovers(id, []), []);
  });

  it('guests of one shape start from a snapshot: captured before the first one\'s handshake, restored with their own secret, the host\'s clock and their own random state; a changed snapshot is refused, one QEMU cannot load is dropped', async () => {
    // A memory limit no other case uses: a shape of its own, so the first start here captures.
    const shaped = (id: string, extra: Partial<SandboxSpec> = {}) => ({ ...spec(id, { memoryMb: 112 }), ...extra });
    const value = randomBytes(24).toString('hex');
    const probe = 'head -c 16 /dev/urandom | od -An -tx1 | tr -d " \\n"; echo; date +%s; cat /run/secrets/api_key 2>/dev/null; echo';
    const dir = `${config.stateDir}/microvm/snapshot`;
    const snapshots = () => (existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.vmstate')) : []);
    const earlier = snapshots();
    const runs: { from: string; random: string; clock: number; before: number; after: number; secret: string }[] = [];
    for (const [i, extra] of [[0, { secrets: [{ name: 'api_key', bytes: () => Buffer.from(value) }] }], [1, {}], [2, {}]] as const) {
      const sandbox = (await driver.create(shaped(`mvm-${process.pid}-snap${i}`, extra))) as MicrovmSandbox;
      const before = Math.floor(Date.now() / 1000);
      try {
        const proc = await sandbox.start({ argv: ['sh', '-c', probe], stdin: false });
        const [out, err] = [collect(proc.stdout), collect(proc.stderr)];
        assert.equal((await proc.exit).code, 0, await err);
        const [random = '', clock = '', secret = ''] = (await out).split('\n');
        runs.push({ from: sandbox.startsFrom, random, clock: Number(clock), before, after: Math.ceil(Date.now() / 1000), secret });
      } finally {
        await sandbox.destroy();
      }
    }
    assert.deepEqual(runs.map((r) => r.from), ['boot, capturing a snapshot', 'snapshot', 'snapshot']);
    assert.equal(runs[0]?.secret, value, 'the capturing sandbox got its secret after the capture');
    assert.deepEqual(runs.slice(1).map((r) => r.secret), ['', ''], 'restored guests have none of the first one\'s files');
    for (const r of runs) assert.ok(r.clock >= r.before && r.clock <= r.after, `the guest's clock ${r.clock} is the host's (${r.before}..${r.after})`);
    assert.equal(new Set(runs.map((r) => r.random)).size, 3, `every guest draws its own random numbers: ${runs.map((r) => r.random).join(' ')}`);
    const captured = snapshots().filter((n) => !earlier.includes(n));
    assert.equal(captured.length, 1, 'one snapshot is kept for the shape');
    const snapshot = captured[0] as string;
    assert.equal(statSync(`${dir}/${snapshot}`).mode & 0o777, 0o600);
    // Why the snapshot is searched for the secret: the capture happened before any of the first sandbox's handshake reached the guest.
    assert.ok(!readFileSync(`${dir}/${snapshot}`).includes(Buffer.from(value)), 'no secret value of the capturing sandbox is in the snapshot');
    // A snapshot changed after it was captured is refused, naming the control; once removed, the next start captures anew.
    appendFileSync(`${dir}/${snapshot}`, Buffer.from([0]));
    await assert.rejects(driver.create(shaped(`mvm-${process.pid}-snap3`)), /microvm\.snapshot: .*\.vmstate has SHA-256 [0-9a-f]{64}, but [0-9a-f]{64} was recorded/);
    discardSnapshot(`${dir}/${snapshot}`);
    // A snapshot whose checksum holds but that QEMU can't load (another QEMU's format, say): the
    // start fails naming the snapshot, which is removed; the next start of the shape captures anew.
    writeFileSync(`${dir}/${snapshot}`, randomBytes(4096), { mode: 0o600 });
    writeFileSync(`${dir}/${snapshot}.sha256`, `${createHash('sha256').update(readFileSync(`${dir}/${snapshot}`)).digest('hex')}\n`, { mode: 0o600 });
    const unloadable = (await driver.create(shaped(`mvm-${process.pid}-snap4`))) as MicrovmSandbox;
    try {
      assert.equal(unloadable.startsFrom, 'snapshot');
      await assert.rejects(unloadable.start({ argv: ['true'], stdin: false }), /^ControlError: microvm\.snapshot: the guest could not be restored from .*\.vmstate \(removed: the next start captures a new one\): the VMM exited/);
    } finally {
      await unloadable.destroy();
    }
    assert.ok(!existsSync(`${dir}/${snapshot}`), 'the snapshot QEMU could not load is gone');
    const again = (await driver.create(shaped(`mvm-${process.pid}-snap5`))) as MicrovmSandbox;
    try {
      assert.equal(again.startsFrom, 'boot, capturing a snapshot');
      const proc = await again.start({ argv: ['true'], stdin: false });
      assert.equal((await proc.exit).code, 0);
    } finally {
      await again.destroy();
    }
    assert.ok(existsSync(`${dir}/${snapshot}`), 'captured anew');
    // A snapshot removed between a create and its start (evicted by another shape's capture): that guest boots instead.
    const evicted = (await driver.create(shaped(`mvm-${process.pid}-snap6`))) as MicrovmSandbox;
    try {
      assert.equal(evicted.startsFrom, 'snapshot');
      discardSnapshot(`${dir}/${snapshot}`);
      const proc = await evicted.start({ argv: ['true'], stdin: false });
      assert.equal((await proc.exit).code, 0);
      assert.equal(evicted.startsFrom, 'boot');
    } finally {
      await evicted.destroy();
    }
    assert.deepEqual(leftovers(`mvm-${process.pid}-snap6`, []), []);
  });

  it('a guest root image changed after it was built is refused, and accepted again once restored', async () => {
    const path = await ensureRootImage(config.stateDir, image as Image, new Map());
    const size = statSync(path).size;
    appendFileSync(path, Buffer.from([0]));
    try {
      await assert.rejects(driver.create(spec(`mvm-${process.pid}-t`)), /microvm: .*\.erofs has SHA-256 [0-9a-f]{64}, but [0-9a-f]{64} was recorded when it was built/);
    } finally {
      truncateSync(path, size);
    }
    const sandbox = await driver.create(spec(`mvm-${process.pid}-t`));
    await sandbox.destroy();
    assert.deepEqual(leftovers(`mvm-${process.pid}-t`, []), []);
  });

  it('the API takes firecracker as another name for microvm', () => {
    assert.equal(RuntimeField.parse('firecracker'), 'microvm');
    assert.equal(RuntimeField.parse('microvm'), 'microvm');
    assert.equal(RuntimeField.safeParse('kata').error?.issues[0]?.message, 'unknown runtime "kata" (this build has: namespace, gvisor, microvm, firecracker)');
  });

  it('refuses what this build cannot give a VM, before anything exists', async () => {
    await assert.rejects(driver.create({ ...spec(`mvm-${process.pid}-n`), secrets: [{ name: 'Bad/Name', bytes: () => Buffer.from('x') }] }), /secrets: "Bad\/Name" is not a secret name/);
    await assert.rejects(driver.create({ ...spec(`mvm-${process.pid}-r`), resolvConf: 'nameserver 1.1.1.1\n' }), /network: a resolver configuration needs an attached network/);
    assert.deepEqual(leftovers('none', []), []);
  });
});
