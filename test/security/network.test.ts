/**
 * T15 network default deny, on both runtimes: `none` reaches nothing; `restricted` reaches only
 * allowlisted targets through its egress proxy (name tricks, metadata, rebinding, Host/SNI
 * mismatches refused; no path around the proxy); `full` still can't reach the host, private ranges
 * or metadata; host-side drift kills the sandbox; 100 concurrent restricted sandboxes don't cross.
 * All traffic stays on this machine.
 */
import { before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { NetworkManager } from '../../src/network/manager.ts';
import type { NetworkRequest } from '../../src/network/policy.ts';
import { HOST_LINK_PREFIX, SLOT_PREFIX, slotSpace } from '../../src/network/slots.ts';
import type { EgressDecision } from '../../src/network/proxy/index.ts';
import type { ExecutionResult } from '../../src/sandbox/result.ts';
import { hostBaseline, leftoverMark, nftTables, sandboxCgroupPids, type HostBaseline } from './lib/host.ts';
import { RUNTIMES, runInSandbox } from './lib/runtime.ts';
import { runtimeCase, useSuite, type Ready } from './lib/suite.ts';
import { hostAddress, httpServer, probeArgv, probeResults, publicPeer, tlsServer, type RecordingServer } from './network/fixtures.ts';

const suite = useSuite();
/** microvm too: its VMM's namespace holds the tap the guest's NIC is on, under the same rules and drift watch. */
const NETWORK_RUNTIMES = [...RUNTIMES, 'microvm'] as const;
const decisions: EgressDecision[] = [];
/** Fixtures a failed case must still remove (run in `after`). */
const cleanups: (() => void)[] = [];
let networks: NetworkManager;
let allowed: RecordingServer;
let other: RecordingServer;
let anyAddress: RecordingServer;
let tls: RecordingServer;
let baseline: HostBaseline;

/** Waiters for the next sandbox whose drift watch is in effect (the manager's readiness signal). */
const watchWaiters: ((pid: number) => void)[] = [];
/** Resolves with the watched pid once the next sandbox's drift watch is subscribed, baselined and compared. */
const nextWatchReady = (): Promise<number> => new Promise((resolve) => watchWaiters.push(resolve));

before(async () => {
  networks = new NetworkManager({ config: suite.config, onDecision: (d) => decisions.push(d), onWatchReady: (_id, pid) => watchWaiters.shift()?.(pid) });
  [allowed, other, anyAddress, tls] = await Promise.all([httpServer(), httpServer(), httpServer('0.0.0.0'), tlsServer()]);
  baseline = hostBaseline();
});

suite.closeFirst(async () => {
  for (const cleanup of cleanups) cleanup();
  await networks?.close();
  await Promise.all([allowed, other, anyAddress, tls].map((s) => s?.close()));
});

const restricted = (...hosts: string[]): NetworkRequest => ({ mode: 'restricted', allowedHosts: hosts, services: [] });

async function runProbe(ready: Ready, network: NetworkRequest, checks: object[], timeoutSeconds = 60): Promise<{ result: ExecutionResult; r: Map<string, Record<string, unknown>> }> {
  const result = await runInSandbox(ready, suite.config, probeArgv(checks), { network, networks, limits: { timeoutSeconds } });
  assert.equal(result.termination_reason, 'completed', `probe did not complete: ${result.termination_reason}: ${result.error?.slice(0, 400)} ${JSON.stringify(result.security_violations).slice(0, 600)}`);
  return { result, r: probeResults(result.output) };
}

function expect(r: Map<string, Record<string, unknown>>, id: string, fields: Record<string, unknown>): void {
  const got = r.get(id);
  assert.ok(got !== undefined, `no result for ${id}`);
  for (const [k, v] of Object.entries(fields)) assert.deepEqual(got[k], v, `${id}.${k}: ${JSON.stringify(got)}`);
}

/** Refused by the proxy: 403 with one of `reasons` in the deny header. */
function refused(r: Map<string, Record<string, unknown>>, id: string, ...reasons: string[]): void {
  const got = r.get(id);
  assert.equal(got?.['status'], 403, `${id}: ${JSON.stringify(got)}`);
  assert.ok(reasons.includes(String(got?.['reason'])), `${id}: reason ${String(got?.['reason'])}, expected one of ${reasons.join(', ')}`);
}

/** A probe check that must not connect (dropped, unreachable or refused: anything but connected). */
function unreachable(r: Map<string, Record<string, unknown>>, id: string): void {
  expect(r, id, { connected: false });
}

/**
 * Host pid of a process of the running sandbox of this suite that lives in the sandbox's network
 * namespace: on gVisor the sandbox kernel (runsc's `runsc-sandbox`; the gofer has an empty
 * namespace of its own, and a link moved there would not be in the sandbox), on namespace any
 * process in a namespace other than ours.
 */
function sandboxNetPid(runtime: string): number {
  const own = readlinkSync('/proc/self/ns/net');
  for (const pids of sandboxCgroupPids(suite.config).values()) {
    for (const pid of pids) {
      try {
        if (runtime === 'gvisor' && readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] !== 'runsc-sandbox') continue;
        if (readlinkSync(`/proc/${pid}/ns/net`) !== own) return pid;
      } catch {
        // Exited.
      }
    }
  }
  throw new Error('no running sandbox found');
}

/** The nft table of the one sandbox started since `before`, once it exists. */
async function newSandboxTable(before: Set<string>): Promise<string> {
  for (let i = 0; i < 400; i++) {
    // Only this suite's own slot space: a live controller's tables on the host are never touched.
    const table = nftTables().find((t) => t.startsWith(`inet ${slotSpace(suite.config.network.instance).netns}`) && !before.has(t));
    if (table !== undefined) return table;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('the sandbox table never appeared');
}

/** Host-side changes to a running restricted sandbox's slot (named by its nft table) that must kill it. */
const HOST_TAMPERING: { what: string; act: (table: string) => void; facet: RegExp }[] = [
  {
    what: 'flushing the sandbox rules from the host',
    act: (table) => execFileSync('nft', ['flush', 'table', ...table.split(' ')]),
    facet: /firewall rules/,
  },
  {
    what: "setting the sandbox's host link down",
    act: (table) => execFileSync('ip', ['link', 'set', table.replace(`inet ${SLOT_PREFIX}`, HOST_LINK_PREFIX), 'down']),
    // Named, with its configuration before and after (IFF_UP gone from the flags).
    facet: /host link: \S+ ifindex=\d+ flags=0x[0-9a-f]*[13579bdf] → \S+ ifindex=\d+ flags=0x[0-9a-f]*[02468ace]\b/,
  },
  {
    what: 'adding a rule to the sandbox table and removing it at once',
    act: (table) => {
      const [family, name] = table.split(' ') as [string, string];
      const echoed = execFileSync('nft', ['--echo', '--handle', 'add', 'rule', family, name, 'input', 'tcp', 'dport', '9', 'accept'], { encoding: 'utf8' });
      const handle = /# handle (\d+)/.exec(echoed)?.[1];
      assert.ok(handle !== undefined, `no handle in ${echoed}`);
      execFileSync('nft', ['delete', 'rule', family, name, 'input', 'handle', handle]);
    },
    // The state is back to its baseline long before the next full comparison: the events are the proof.
    facet: /firewall rules: added rule inet \S+ input #\d+: tcp dport 9 accept \(seen by nft monitor\).*firewall rules: deleted rule .*reverted/,
  },
];

function driftViolation(result: ExecutionResult, what: RegExp): { timestamp: string; description: string } {
  assert.equal(result.termination_reason, 'network_drift', `expected network_drift, got ${result.termination_reason}: ${result.error}`);
  const v = result.security_violations.find((x) => x.violation_type === 'network_drift');
  assert.ok(v, 'no network_drift violation recorded');
  assert.equal(v.detection_layer, 'NETWORK');
  assert.match(v.description, what);
  return v;
}

for (const runtime of NETWORK_RUNTIMES) {
  describe(`${runtime}: T15 network default deny`, () => {
    runtimeCase(suite, runtime, 'none: loopback only; no connect anywhere, no resolver, no raw or packet sockets', async (_t, ready) => {
      const host = hostAddress();
      const { r, result } = await runProbe(ready, { mode: 'none', allowedHosts: [], services: [] }, [
        { op: 'links' },
        { id: 'own-loopback', op: 'tcp', host: '127.0.0.1', port: allowed.port },
        ...(host === undefined ? [] : [{ id: 'host', op: 'tcp', host, port: anyAddress.port }]),
        { id: 'metadata', op: 'tcp', host: '169.254.169.254', port: 80 },
        { id: 'public', op: 'tcp', host: '1.1.1.1', port: 80 },
        { op: 'dns', name: 'example.com' },
        { op: 'raw' },
        { op: 'packet' },
      ]);
      expect(r, 'links', { links: ['lo'] });
      for (const id of ['own-loopback', 'metadata', 'public', ...(host === undefined ? [] : ['host'])]) unreachable(r, id);
      expect(r, 'dns', { resolved: false });
      expect(r, 'raw', { opened: false });
      expect(r, 'packet', { opened: false });
      assert.deepEqual([result.resource_usage.network_rx_bytes, result.resource_usage.network_tx_bytes], [0, 0]);
      assert.deepEqual(anyAddress.seen, []);
    });

    runtimeCase(suite, runtime, 'restricted: only allowlisted targets through the proxy; name tricks, metadata and rebinding refused', async (_t, ready) => {
      const P = allowed.port;
      const O = other.port;
      const before = decisions.length;
      const seenBefore = allowed.seen.length;
      const { r, result } = await runProbe(ready, restricted(`127.0.0.1:${P}`, `localhost:${P}`), [
        { id: 'allowed', op: 'http', url: `http://127.0.0.1:${P}/ok`, host_header: `127.0.0.1:${P}` },
        { id: 'decimal', op: 'http', url: `http://2130706433:${P}/decimal`, host_header: `2130706433:${P}` },
        { id: 'hex', op: 'http', url: `http://0x7f.0.0.1:${P}/hex`, host_header: `0x7f.0.0.1:${P}` },
        { id: 'octal', op: 'http', url: `http://0177.0.0.1:${P}/octal`, host_header: `0177.0.0.1:${P}` },
        { id: 'other-port', op: 'http', url: `http://127.0.0.1:${O}/x`, host_header: `127.0.0.1:${O}` },
        { id: 'mapped-v6', op: 'http', url: `http://[::ffff:127.0.0.1]:${O}/x`, host_header: `[::ffff:127.0.0.1]:${O}` },
        { id: 'short', op: 'http', url: `http://127.1:${O}/x`, host_header: `127.1:${O}` },
        { id: 'rebinding', op: 'http', url: `http://LocalHost.:${P}/rebind`, host_header: `LocalHost.:${P}` },
        { id: 'metadata', op: 'http', url: 'http://169.254.169.254/latest/meta-data/', host_header: '169.254.169.254' },
        { id: 'userinfo', op: 'http', url: `http://127.0.0.1:${P}@example.com/userinfo`, host_header: 'example.com' },
        { id: 'host-mismatch', op: 'http', url: `http://127.0.0.1:${P}/mismatch`, host_header: 'evil.example' },
        { id: 'origin-form', op: 'http', url: '/origin', host_header: `127.0.0.1:${P}` },
      ]);
      expect(r, 'allowed', { status: 200, body: 'hello /ok' });
      for (const id of ['decimal', 'hex', 'octal']) expect(r, id, { status: 200 });
      // A loopback literal that isn't allowlisted may be refused for either reason (address checks come first).
      for (const id of ['other-port', 'mapped-v6', 'short']) refused(r, id, 'not_allowlisted', 'loopback_address');
      // Allowlisted by name, but the name resolves to loopback: refused (the exception is for IP literals only).
      expect(r, 'rebinding', { status: 403, reason: 'loopback_address' });
      expect(r, 'metadata', { status: 403, reason: 'cloud_metadata' });
      assert.equal((r.get('userinfo') as { status: number }).status, 403, JSON.stringify(r.get('userinfo')));
      expect(r, 'host-mismatch', { status: 403, reason: 'host_header_mismatch' });
      expect(r, 'origin-form', { status: 403, reason: 'not_a_proxy_request' });
      // Exactly the allowed requests reached the server (the servers are shared by both runtimes' cases).
      assert.deepEqual(allowed.seen.slice(seenBefore).sort(), ['/decimal', '/hex', '/octal', '/ok']);
      assert.deepEqual(other.seen, [], 'a refused target was contacted');
      // Every decision is recorded with host, port and reason.
      const mine = decisions.slice(before);
      assert.ok(mine.some((d) => d.allowed && d.reason === 'allowlisted' && d.host === '127.0.0.1' && d.port === P));
      assert.ok(mine.some((d) => !d.allowed && d.reason === 'cloud_metadata' && d.host === '169.254.169.254' && d.port === 80));
      assert.ok(result.resource_usage.network_tx_bytes > 0 && result.resource_usage.network_rx_bytes > 0, JSON.stringify(result.resource_usage));
    });

    runtimeCase(suite, runtime, 'restricted: CONNECT is tunnelled only for a ClientHello whose SNI matches', async (_t, ready) => {
      const seenBefore = tls.seen.length;
      const { r } = await runProbe(ready, restricted(`127.0.0.1:${tls.port}`), [
        { id: 'matching', op: 'connect_tls', target: `127.0.0.1:${tls.port}`, sni: null },
        { id: 'sni-mismatch', op: 'connect_tls', target: `127.0.0.1:${tls.port}`, sni: 'evil.example' },
        { id: 'not-allowlisted', op: 'connect_tls', target: `127.0.0.1:${other.port}`, sni: null },
      ]);
      expect(r, 'matching', { status: 200, handshake: 'ok' });
      expect(r, 'sni-mismatch', { status: 200, handshake: 'failed' });
      refused(r, 'not-allowlisted', 'not_allowlisted', 'loopback_address');
      // Only the matching handshake ever reached the server.
      assert.deepEqual(tls.seen.slice(seenBefore), ['(no sni)']);
    });

    runtimeCase(suite, runtime, 'restricted: no way around the proxy (direct connects, the host, DNS, other slots)', async (_t, ready) => {
      const host = hostAddress();
      const { r } = await runProbe(ready, restricted(`127.0.0.1:${allowed.port}`), [{ op: 'env' }, { op: 'links' }]);
      const proxyHost = String(r.get('env')?.['proxy']).replace(/^http:\/\//, '').split(':')[0] as string;
      assert.match(proxyHost, /^\d+\.\d+\.\d+\.\d+$/);
      expect(r, 'links', { links: ['eth0', 'lo'] });
      const octets = proxyHost.split('.').map(Number);
      // Two other slots' proxies: this second run may itself get one of them, so the one it got is left out below.
      const neighbours = [4, 8].map((bit) => [...octets.slice(0, 3), (octets[3] as number) ^ bit].join('.'));
      const { r: r2 } = await runProbe(ready, restricted(`127.0.0.1:${allowed.port}`), [
        { op: 'env' },
        { id: 'proxy-host-other-port', op: 'tcp', host: proxyHost, port: anyAddress.port },
        ...neighbours.map((neighbour, i) => ({ id: `neighbour-proxy-${i}`, op: 'tcp', host: neighbour, port: suite.config.network.proxyPort })),
        ...(host === undefined ? [] : [{ id: 'host', op: 'tcp', host, port: anyAddress.port }]),
        { id: 'public', op: 'tcp', host: '1.1.1.1', port: 443 },
        { id: 'metadata', op: 'tcp', host: '169.254.169.254', port: 80 },
        { op: 'dns', name: 'example.com' },
        { op: 'raw' },
        { op: 'packet' },
      ]);
      const ownProxy = String(r2.get('env')?.['proxy']).replace(/^http:\/\//, '').split(':')[0];
      const otherSlots = neighbours.flatMap((neighbour, i) => (neighbour === ownProxy ? [] : [`neighbour-proxy-${i}`]));
      assert.ok(otherSlots.length >= 1, `no neighbour left to probe: ${JSON.stringify(neighbours)} vs ${ownProxy}`);
      for (const id of ['proxy-host-other-port', ...otherSlots, 'public', 'metadata', ...(host === undefined ? [] : ['host'])]) unreachable(r2, id);
      expect(r2, 'dns', { resolved: false });
      expect(r2, 'raw', { opened: false });
      expect(r2, 'packet', { opened: false });
      assert.deepEqual(anyAddress.seen, []);
    });

    runtimeCase(suite, runtime, 'full: NAT\'d egress to a public address works; the host, private ranges and metadata stay unreachable', async (_t, ready) => {
      const host = hostAddress();
      const peer = await publicPeer();
      cleanups.push(() => peer.close());
      const { r } = await runProbe(ready, { mode: 'full', allowedHosts: [], services: [] }, [
        { id: 'public-peer', op: 'direct_http', host: peer.address, port: peer.port },
        { op: 'links' },
        ...(host === undefined ? [] : [{ id: 'host', op: 'tcp', host, port: anyAddress.port }]),
        { id: 'metadata', op: 'tcp', host: '169.254.169.254', port: 80 },
        { id: 'private', op: 'tcp', host: '10.0.0.1', port: 80 },
        { id: 'cgnat', op: 'tcp', host: '100.64.0.1', port: 80 },
        { id: 'azure-wireserver', op: 'tcp', host: '168.63.129.16', port: 80 },
        { op: 'raw' },
        { op: 'resolv' },
      ]);
      expect(r, 'links', { links: ['eth0', 'lo'] });
      // Public resolvers only (the host's own would be refused like the host), read-only.
      expect(r, 'resolv', { content: suite.config.network.fullModeResolvers.map((ip) => `nameserver ${ip}\n`).join(''), writable: false });
      // Egress works, masqueraded: the peer sees the host's address on its link, not the sandbox's.
      expect(r, 'public-peer', { status: 200, body: 'peer saw 192.0.31.2' });
      assert.deepEqual(peer.clients(), ['192.0.31.2']);
      peer.close();
      for (const id of ['metadata', 'private', 'cgnat', 'azure-wireserver', ...(host === undefined ? [] : ['host'])]) unreachable(r, id);
      expect(r, 'raw', { opened: false });
      assert.deepEqual(anyAddress.seen, []);
    });

    for (const tampering of HOST_TAMPERING) {
      runtimeCase(suite, runtime, `drift: ${tampering.what} kills it within a second`, async (t, ready) => {
        const tablesBefore = new Set(nftTables());
        const watching = nextWatchReady();
        const run = runInSandbox(ready, suite.config, ['sleep', '30'], { network: restricted(), networks, limits: { timeoutSeconds: 40 } });
        const table = await newSandboxTable(tablesBefore);
        await watching;
        const changedAt = Date.now();
        tampering.act(table);
        const result = await run;
        const v = driftViolation(result, tampering.facet);
        t.diagnostic(v.description);
        const detectedMs = Date.parse(v.timestamp) - changedAt;
        assert.ok(detectedMs < 1000, `drift detected ${detectedMs} ms after the change`);
        assert.ok(result.execution_time_seconds < 10);
      });
    }

    runtimeCase(suite, runtime, 'drift: a link moved into an isolated sandbox kills it', async (t, ready) => {
      const watching = nextWatchReady();
      const run = runInSandbox(ready, suite.config, ['sleep', '30'], { network: { mode: 'none', allowedHosts: [], services: [] }, networks, limits: { timeoutSeconds: 40 } });
      await watching;
      // Found apart from the watch (which must have picked the same namespace to see the link).
      const pid = sandboxNetPid(runtime);
      const link = `drift${process.pid % 10000}`;
      // A veth pair (dummy links need a module this kernel may lack): one end goes into the sandbox.
      execFileSync('ip', ['link', 'add', link, 'type', 'veth', 'peer', 'name', `${link}p`]);
      try {
        const movedAt = Date.now();
        execFileSync('ip', ['link', 'set', `${link}p`, 'netns', String(pid)]);
        const result = await run;
        const v = driftViolation(result, new RegExp(`sandbox links: lo → ${link}p,lo`));
        t.diagnostic(v.description);
        // Seen through the host's event (the link left the host), not the next full comparison.
        const detectedMs = Date.parse(v.timestamp) - movedAt;
        assert.ok(detectedMs < 1000, `drift detected ${detectedMs} ms after the move`);
      } finally {
        // Gone already when the sandbox's namespace (holding the peer) was destroyed.
        spawnSync('ip', ['link', 'del', link]);
      }
    });

    // Fewer of the heavier ones: a gVisor sandbox kernel, a whole emulated VM.
    const concurrent = { namespace: 100, gvisor: 10, microvm: 4 }[runtime];
    runtimeCase(suite, runtime, `${concurrent} concurrent restricted sandboxes: each reaches its target, none another's, nothing left after`, async (_t, ready) => {
      const mark = leftoverMark(suite.config, baseline, []);
      const runs = Array.from({ length: concurrent }, (_, i) =>
        runProbe(ready, restricted(`127.0.0.1:${allowed.port}`), [
          { op: 'env' },
          { id: 'mine', op: 'http', url: `http://127.0.0.1:${allowed.port}/token-${runtime}-${i}`, host_header: `127.0.0.1:${allowed.port}` },
        ], 120),
      );
      const results = await Promise.all(runs);
      const proxies = new Set<string>();
      results.forEach(({ r }, i) => {
        expect(r, 'mine', { status: 200, body: `hello /token-${runtime}-${i}` });
        proxies.add(String(r.get('env')?.['proxy']));
      });
      assert.equal(proxies.size, concurrent, 'two sandboxes shared a proxy address');
      for (let i = 0; i < concurrent; i++) assert.equal(allowed.seen.filter((p) => p === `/token-${runtime}-${i}`).length, 1, `token-${runtime}-${i}`);
      await networks.settled();
      await mark.assertNoneAdded('concurrent restricted sandboxes left something behind');
    }, { timeout: 600_000 });
  });
}
