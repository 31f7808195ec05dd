/**
 * Restricted and full networks on the `microvm` runtime, on real QEMU (TCG here) through
 * executeOnce and the network manager, as the other tiers get them: the VMM in the slot's
 * namespace, the guest's eth0 on a tap there, the slot's nft rules and drift watch. Skipped, with
 * the reason, where this host can't boot a guest; each case boots one guest.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { basename } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import type { Image } from '../../src/images/image.ts';
import type { Limits } from '../../src/isolation/driver.ts';
import { MicrovmDriver, type MicrovmSandbox } from '../../src/isolation/microvm/index.ts';
import { ensureGuestKernel } from '../../src/isolation/microvm/kernel.ts';
import { detectAccel, GUEST_TAP, hostTscKhz, qemuArgs, QEMU_BINARY, vmSizes, VMM_FD } from '../../src/isolation/microvm/qemu.ts';
import { handshake, handshakeBytes } from '../../src/isolation/microvm/channel.ts';
import { defaultInitramfsInputs, ensureInitramfs } from '../../src/isolation/microvm/initramfs.ts';
import { ensureRootImage } from '../../src/isolation/microvm/rootfs.ts';
import { executeOnce } from '../../src/sandbox/execute.ts';
import type { ExecutionResult } from '../../src/sandbox/result.ts';
import { NetworkManager } from '../../src/network/manager.ts';
import type { NetworkRequest } from '../../src/network/policy.ts';
import { slotSpace } from '../../src/network/slots.ts';
import { microvmSkipReason } from './lib/gate.ts';
import { removeIsolatedState } from '../security/lib/runtime.ts';
import { isolatedConfig } from '../security/lib/isolated-config.ts';
import { SandboxService } from '../../src/sandbox/service.ts';
import { policyDirOf, readBundleHash } from '../../src/policy/bundle-files.ts';
import { nftTables, ownNetworkPieces, processesInUidRange } from '../security/lib/host.ts';
import { publicPeer } from '../security/network/fixtures.ts';

/** The internal service the restricted guest may call: a loopback server on the host, reached only through the proxy. */
const inference = createServer((req, res) => res.end(`completion ${req.url}`));
await new Promise<void>((resolve) => inference.listen(0, '127.0.0.1', resolve));
/** A server on every host address: a guest must never reach it directly, whatever the mode. */
const anyAddress = createServer((req, res) => {
  hostSeen.push(req.url ?? '');
  res.end('host');
});
const hostSeen: string[] = [];
await new Promise<void>((resolve) => anyAddress.listen(0, '0.0.0.0', resolve));
const portOf = (s: typeof inference) => (s.address() as AddressInfo).port;

const config = isolatedConfig({ network: { services: { inference: { url: `http://127.0.0.1:${portOf(inference)}`, methods: ['GET'], pathPrefixes: ['/v1/'] } } } });
const driver = new MicrovmDriver({ config });
/** How each guest this file created starts (snapshot.ts): the first on a tap captures, the next restore. */
const startsFrom: string[] = [];
const create = driver.create.bind(driver);
driver.create = async (spec) => {
  const sandbox = (await create(spec)) as MicrovmSandbox;
  startsFrom.push(sandbox.startsFrom);
  return sandbox;
};
const watchWaiters: ((pid: number) => void)[] = [];
const networks = new NetworkManager({ config, onWatchReady: (_id, pid) => watchWaiters.shift()?.(pid) });
const LIMITS: Limits = { memoryMb: 128, cpuCores: 1, pids: 64, timeoutSeconds: 60, scratchMb: 16, outputBytes: 1 << 20, openFiles: 256 };

const [skip, image] = await microvmSkipReason(config, { names: ['nft', 'nsenter'], why: 'for attached networks' });

after(async () => {
  await networks.close();
  inference.close();
  anyAddress.close();
  // The service's drivers prepared state under the run directory too (the gVisor agent layer among it).
  const problems = removeIsolatedState(config);
  if (problems.length > 0) process.stderr.write(`microvm network test cleanup: ${problems.join('; ')}\n`);
});

/**
 * Run in the guest: one JSON line per check. `http`: through the proxy variables the sandbox got;
 * `direct_http`: no proxy; `tcp`: a bare connect (2 s).
 */
const PROBE = `
import json, os, socket, sys, urllib.parse, urllib.request
def out(**kw): print(json.dumps(kw), flush=True)
for check in json.loads(sys.argv[1]):
    op, cid = check['op'], check.get('id', check['op'])
    if op in ('http', 'direct_http'):
        handlers = [] if op == 'http' else [urllib.request.ProxyHandler({})]
        try:
            r = urllib.request.build_opener(*handlers).open(check['url'], timeout=8)
            out(id=cid, status=r.status, body=r.read().decode())
        except urllib.error.HTTPError as e:
            out(id=cid, status=e.code, reason=e.headers.get('X-Airlock-Deny-Reason'))
        except Exception as e:
            out(id=cid, status=None, error=repr(e))
    elif op == 'tcp':
        host = check['host']
        if host == '@proxy':
            host = urllib.parse.urlsplit(os.environ['HTTP_PROXY']).hostname
        elif host == '@gateway':
            gw = [l.split()[2] for l in open('/proc/net/route').read().split('\\n')[1:] if l.split()[1:2] == ['00000000']][0]
            host = socket.inet_ntoa(bytes.fromhex(gw)[::-1])
        s = socket.socket(); s.settimeout(2)
        try:
            s.connect((host, check['port'])); out(id=cid, host=host, connected=True)
        except Exception as e:
            out(id=cid, connected=False, error=repr(e))
        finally:
            s.close()
    elif op == 'links':
        out(id=cid, links=sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').read().split('\\n')[2:] if ':' in l))
    elif op == 'resolv':
        try:
            content = open('/etc/resolv.conf').read()
        except Exception as e:
            content = repr(e)
        out(id=cid, content=content, writable=os.access('/etc/resolv.conf', os.W_OK))
    elif op == 'gateway':
        gw = [l.split()[2] for l in open('/proc/net/route').read().split('\\n')[1:] if l.split()[1:2] == ['00000000']]
        proxy = os.environ.get('HTTP_PROXY', '')
        out(id=cid, gateway=gw, proxy=proxy)
`;

function run(network: NetworkRequest, argv: string[], limits: Partial<Limits> = {}): Promise<ExecutionResult> {
  return executeOnce({ image: image as Image, limits: { ...LIMITS, ...limits }, env: { PATH: '/usr/bin:/bin' }, mounts: [], workdir: '/tmp', argv, network }, { driver, network: networks, policyHash: 'sha256:microvm-network-test' });
}

async function probe(network: NetworkRequest, checks: object[]): Promise<Map<string, Record<string, unknown>>> {
  const result = await run(network, ['python3', '-c', PROBE, JSON.stringify(checks)]);
  assert.equal(result.termination_reason, 'completed', `probe did not complete: ${result.termination_reason}: ${result.error?.slice(0, 600)} ${JSON.stringify(result.security_violations).slice(0, 800)} ${result.output.slice(-600)}`);
  assert.equal(result.runtime_used, 'microvm');
  return parseProbe(result.output);
}

/** The probe's JSON lines by id. */
function parseProbe(output: string): Map<string, Record<string, unknown>> {
  const r = new Map<string, Record<string, unknown>>();
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    const parsed = JSON.parse(line) as Record<string, unknown>;
    r.set(String(parsed['id']), parsed);
  }
  return r;
}

function field(r: Map<string, Record<string, unknown>>, id: string): Record<string, unknown> {
  const got = r.get(id);
  assert.ok(got !== undefined, `no result for ${id}: ${JSON.stringify([...r.values()])}`);
  return got;
}

function notConnected(r: Map<string, Record<string, unknown>>, id: string): void {
  assert.equal(field(r, id)['connected'], false, `${id}: ${JSON.stringify(r.get(id))}`);
}

/** Nothing of this test's sandboxes left: namespace, link, table, lease, VMM, run directory. */
async function assertNothingLeft(): Promise<void> {
  await networks.settled();
  assert.deepEqual(ownNetworkPieces(config), []);
  assert.deepEqual(processesInUidRange(config), []);
  assert.deepEqual(readdirSync(`${config.runDir}/microvm`), []);
}

describe('microvm networks through a tap', { skip }, () => {
  it('restricted: the allowlisted service through the proxy works; other hosts, metadata and direct connections (host, public, metadata) are refused', async () => {
    const r = await probe({ mode: 'restricted', allowedHosts: [], services: ['inference'] }, [
      { op: 'gateway' },
      { op: 'links' },
      { id: 'service', op: 'http', url: 'http://inference.airlock.internal/v1/x' },
      { id: 'unlisted', op: 'http', url: 'http://example.com/' },
      { id: 'metadata-proxy', op: 'http', url: 'http://169.254.169.254/latest/meta-data/' },
      { id: 'metadata', op: 'tcp', host: '169.254.169.254', port: 80 },
      { id: 'public', op: 'tcp', host: '1.1.1.1', port: 80 },
      // The proxy's own address on another port: the slot's input rule admits the proxy port only.
      { id: 'host-direct', op: 'tcp', host: '@proxy', port: portOf(anyAddress) },
      { id: 'host-ssh', op: 'tcp', host: '@proxy', port: 22 },
    ]);
    assert.equal(field(r, 'service')['status'], 200, JSON.stringify(r.get('service')));
    assert.equal(field(r, 'service')['body'], 'completion /v1/x');
    assert.deepEqual([field(r, 'unlisted')['status'], field(r, 'unlisted')['reason']], [403, 'not_allowlisted'], JSON.stringify(r.get('unlisted')));
    assert.deepEqual([field(r, 'metadata-proxy')['status'], field(r, 'metadata-proxy')['reason']], [403, 'cloud_metadata'], JSON.stringify(r.get('metadata-proxy')));
    for (const id of ['metadata', 'public', 'host-direct', 'host-ssh']) notConnected(r, id);
    assert.deepEqual(hostSeen, []);
    // No default route in the guest: only the on-link proxy is reachable, as on every tier.
    assert.deepEqual(field(r, 'gateway')['gateway'], []);
    assert.match(String(field(r, 'gateway')['proxy']), /^http:\/\/[\d.]+:\d+$/);
    assert.deepEqual(field(r, 'links')['links'], ['eth0', 'lo']);
    await assertNothingLeft();
  });

  it('full: reaches a public peer (masqueraded), never the host, private ranges or metadata; resolv.conf is the configured resolvers, read-only', async () => {
    const peer = await publicPeer();
    const before = startsFrom.length;
    try {
      const r = await probe({ mode: 'full', allowedHosts: [], services: [] }, [
        { op: 'gateway' },
        { op: 'links' },
        { op: 'resolv' },
        { id: 'public-peer', op: 'direct_http', url: `http://${peer.address}:${peer.port}/` },
        { id: 'metadata', op: 'tcp', host: '169.254.169.254', port: 80 },
        { id: 'private', op: 'tcp', host: '10.0.0.1', port: 80 },
        { id: 'cgnat', op: 'tcp', host: '100.64.0.1', port: 80 },
        // The host itself, on the gateway's address: dropped by the slot's input rule.
        { id: 'host', op: 'tcp', host: '@gateway', port: portOf(anyAddress) },
      ]);
      assert.equal(field(r, 'public-peer')['status'], 200, JSON.stringify(r.get('public-peer')));
      assert.equal(field(r, 'public-peer')['body'], 'peer saw 192.0.31.2');
      for (const id of ['metadata', 'private', 'cgnat', 'host']) notConnected(r, id);
      assert.deepEqual(field(r, 'links')['links'], ['eth0', 'lo']);
      assert.equal((field(r, 'gateway')['gateway'] as string[]).length, 1, 'a default route via the host');
      assert.deepEqual(field(r, 'resolv'), { id: 'resolv', content: config.network.fullModeResolvers.map((ip) => `nameserver ${ip}\n`).join(''), writable: false });
      assert.deepEqual(hostSeen, []);
      // Its guest was restored from the snapshot the restricted case's guest captured on its own tap: the network is configured after the restore.
      assert.deepEqual(startsFrom.slice(0, 1).concat(startsFrom.slice(before)), ['boot, capturing a snapshot', 'snapshot']);
    } finally {
      peer.close();
    }
    await assertNothingLeft();
  });

  it('a persistent sandbox through the service with a restricted network: exec reaches the allowed service through the proxy, an unlisted host gets 403', async () => {
    const service = new SandboxService({ config, policyBundleHash: await readBundleHash(policyDirOf(config.policy)) });
    await service.start();
    try {
      const info = await service.create({ runtime: 'microvm', limits: { memoryMb: 128 }, metadata: {}, env: {}, mounts: [], network: { mode: 'restricted', allowedHosts: [], services: ['inference'] } });
      assert.equal(info.state, 'running');
      const checks = [{ id: 'service', op: 'http', url: 'http://inference.airlock.internal/v1/svc' }, { id: 'unlisted', op: 'http', url: 'http://example.org/' }];
      const session = await service.exec(info.sandbox_id, { argv: ['python3', '-c', PROBE, JSON.stringify(checks)], env: {}, stdin: false, timeoutMs: 60_000 });
      let out = '';
      session.onStdout((c) => (out += c.toString()));
      const result = await session.result;
      assert.equal(result.exit_code, 0, out);
      const r = parseProbe(out);
      assert.deepEqual([field(r, 'service')['status'], field(r, 'service')['body']], [200, 'completion /v1/svc']);
      assert.deepEqual([field(r, 'unlisted')['status'], field(r, 'unlisted')['reason']], [403, 'not_allowlisted']);
      await service.kill(info.sandbox_id);
    } finally {
      await service.shutdown();
    }
    assert.deepEqual(ownNetworkPieces(config), []);
    assert.deepEqual(processesInUidRange(config), []);
    assert.deepEqual(readdirSync(`${config.runDir}/microvm`), []);
  });

  it('a namespace whose tap cannot be made fails the start naming network.tap, and leaves nothing', async () => {
    const id = `mvm-net-${process.pid}-t`;
    await assert.rejects(
      driver.create({ id, image: image as Image, limits: LIMITS, env: {}, mounts: [], workdir: '/tmp', network: { kind: 'attached', netnsPath: `/run/netns/airlock-test-missing-${process.pid}` } }),
      /network\.tap: cannot give the guest its network/,
    );
    await assert.rejects(
      driver.create({ id, image: image as Image, limits: LIMITS, env: {}, mounts: [], workdir: '/tmp', network: { kind: 'attached', netnsPath: '/tmp/not-a-netns' } }),
      /network\.tap: \/tmp\/not-a-netns is not a named network namespace/,
    );
    await assertNothingLeft();
    assert.ok(!existsSync(`/sys/fs/cgroup/pids/${config.cgroupParent}/${id}`) && !existsSync(`/sys/fs/cgroup/${config.cgroupParent}/${id}`), 'its cgroup was removed');
  });

  it('a tap gone before the launch fails the start naming network.tap; no other tap is made', async () => {
    const id = `mvm-net-${process.pid}-g`;
    const attachment = await networks.attach(id, { mode: 'restricted', allowedHosts: [], services: [] });
    const sandboxNetwork = attachment.sandboxNetwork;
    assert.equal(sandboxNetwork.kind, 'attached');
    const netnsPath = sandboxNetwork.kind === 'attached' ? sandboxNetwork.netnsPath : '';
    const sandbox = await driver.create({ id, image: image as Image, limits: LIMITS, env: {}, mounts: [], workdir: '/tmp', network: sandboxNetwork });
    try {
      execFileSync('ip', ['-n', basename(netnsPath), 'link', 'del', GUEST_TAP]);
      await assert.rejects(sandbox.start({ argv: ['true'], stdin: false }), /^ControlError: network\.tap: .*no tap named airlock-tap in this namespace/);
      assert.doesNotMatch(execFileSync('ip', ['-n', basename(netnsPath), '-o', 'link', 'show'], { encoding: 'utf8' }), new RegExp(GUEST_TAP));
    } finally {
      await sandbox.destroy();
      await attachment.release();
    }
    await assertNothingLeft();
  });

  it('a guest that cannot configure its network powers off: the start fails with the console naming the network step', async () => {
    // Raw QEMU without a network device, told it has one: the guest init must stop, not run without its network.
    const kernel = await ensureGuestKernel(config.stateDir, new Map());
    const initrd = await ensureInitramfs(config.stateDir, await defaultInitramfsInputs(config.stateDir, kernel), new Map(), new Map());
    const root = await ensureRootImage(config.stateDir, image as Image, new Map());
    const dir = mkdtempSync('/tmp/airlock-microvm-net-');
    chmodSync(dir, 0o700);
    const secret = randomBytes(32);
    writeFileSync(`${dir}/secret`, secret, { mode: 0o400 });
    const fds = [root, kernel.vmlinuz, initrd, `${dir}/secret`].map((p) => openSync(p, 'r'));
    const accel = detectAccel().accel;
    const qemu = spawn(QEMU_BINARY, qemuArgs(accel, vmSizes(64, 1), accel === 'tcg' ? hostTscKhz() : undefined), { stdio: ['ignore', 'pipe', 'pipe', 'ignore', 'pipe', ...fds] });
    for (const fd of fds) closeSync(fd);
    let consoleText = '';
    qemu.stdout?.on('data', (c: Buffer) => (consoleText += c.toString('utf8')));
    const exited = new Promise<string>((resolve) => qemu.once('close', (code) => resolve(`the VMM exited (${code})`)));
    try {
      const guest = { address: '10.250.0.2', prefixLength: 30, gateway: '10.250.0.1', resolvConf: 'nameserver 1.1.1.1\n' };
      await assert.rejects(handshake(qemu.stdio[VMM_FD.control] as Socket, handshakeBytes(secret, LIMITS, guest), exited), /microvm: (the VMM exited|the guest closed the control channel)/);
      assert.equal(await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 20_000).unref())]), 'the VMM exited (0)', 'the guest powered off');
      assert.match(consoleText, /airlock-vm-init: network: eth0 \(virtio-net\) did not appear/);
    } finally {
      qemu.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("drift: flushing the slot's nft table kills the VM sandbox", async () => {
    const space = slotSpace(config.network.instance).netns;
    const tablesBefore = new Set(nftTables());
    const watching = new Promise<number>((resolve) => watchWaiters.push(resolve));
    const result = run({ mode: 'restricted', allowedHosts: [], services: [] }, ['sleep', '50'], { timeoutSeconds: 55 });
    const vmm = await watching;
    const table = nftTables().find((t) => t.startsWith(`inet ${space}`) && !tablesBefore.has(t));
    assert.ok(table !== undefined, 'the sandbox table exists');
    // The watched pid is the VMM: in the slot's namespace, unprivileged, holding the tap only as a descriptor.
    const netns = table.slice('inet '.length);
    assert.equal(readlinkSync(`/proc/${vmm}/exe`), QEMU_BINARY);
    assert.equal(statSync(`/proc/${vmm}/ns/net`).ino, statSync(`/run/netns/${netns}`).ino, 'the VMM runs in the slot namespace');
    const status = readFileSync(`/proc/${vmm}/status`, 'utf8');
    assert.notEqual(/^Uid:\s+(\d+)/m.exec(status)?.[1], '0');
    assert.match(status, /^CapEff:\s+0+$/m);
    assert.equal(readlinkSync(`/proc/${vmm}/fd/9`), '/dev/net/tun');
    assert.ok(!existsSync(`/proc/${vmm}/root/dev/net/tun`), 'no /dev/net/tun in the VMM root');
    // The slot's address moved to the guest: the namespace itself has no IPv4 address and no route.
    assert.equal(execFileSync('ip', ['-n', netns, '-4', '-o', 'addr', 'show'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes('inet ') && !l.includes(' lo ')).length, 0);
    assert.equal(execFileSync('ip', ['-n', netns, '-4', 'route', 'show'], { encoding: 'utf8' }).trim(), '');
    const changedAt = Date.now();
    execFileSync('nft', ['flush', 'table', ...table.split(' ')]);
    const done = await result;
    assert.equal(done.termination_reason, 'network_drift', `${done.termination_reason}: ${done.error}`);
    const v = done.security_violations.find((x) => x.violation_type === 'network_drift');
    assert.match(v?.description ?? '', /firewall rules/);
    assert.ok(Date.parse(v?.timestamp ?? '') - changedAt < 1000, 'detected within a second');
    await assertNothingLeft();
  });
});
