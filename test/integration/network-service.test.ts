/**
 * Networks of the sandbox service on real sandboxes: a persistent restricted sandbox reaches an
 * internal service only with its allowed method and path, gets its allowlist changed through the
 * service (recorded), is killed when its rules drift, and leaves no namespace, link or table.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AirlockConfig } from '../../src/config/config.ts';
import { slotSpace } from '../../src/network/slots.ts';
import { SandboxService } from '../../src/sandbox/service.ts';
import { policyDirOf, readBundleHash } from '../../src/policy/bundle-files.ts';
import type { ExecSession } from '../../src/sandbox/service-types.ts';
import { skipReason } from './environment.ts';
import { networkPieces } from './network-pieces.ts';
import { isolatedConfig, removeIsolatedState } from '../security/lib/runtime.ts';

// Own slot space and subnet: only this file's namespaces, links and tables are looked at or touched.
const base = isolatedConfig();
const reason = skipReason(base);
after(() => {
  const problems = removeIsolatedState(base);
  if (problems.length > 0) process.stderr.write(`network service test cleanup: ${problems.join('; ')}\n`);
});

/** Python: GET/POST `url` through the sandbox's proxy; prints "status reason body". */
const FETCH = `
import os, sys, urllib.request
for k in ('no_proxy', 'NO_PROXY'): os.environ.pop(k, None)
method, url = sys.argv[1], sys.argv[2]
req = urllib.request.Request(url, method=method, data=b'{}' if method == 'POST' else None)
try:
    r = urllib.request.urlopen(req, timeout=10); print(r.status, '-', r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.headers.get('X-Airlock-Deny-Reason'), '')
`;

async function output(session: ExecSession): Promise<string> {
  const out: string[] = [];
  session.onStdout((c) => out.push(c.toString()));
  await session.result;
  return out.join('').trim();
}

function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; port: number; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    handler?.(req, res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port, seen })));
}

/** This file's slot namespaces some process runs in (pooled ones are empty); named like their nft tables. */
function inUseNamespaces(): string[] {
  const prefix = slotSpace(base.network.instance).netns;
  const byInode = new Map(readdirSync('/run/netns').filter((n) => n.startsWith(prefix)).map((n) => [`net:[${statSync(`/run/netns/${n}`).ino}]`, n]));
  const used = new Set<string>();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const name = byInode.get(readlinkSync(`/proc/${pid}/ns/net`));
      if (name !== undefined) used.add(name);
    } catch {
      // Exited.
    }
  }
  return [...used];
}


for (const runtime of ['namespace', 'gvisor'] as const) {
  describe(`service networks on ${runtime}`, { skip: reason(runtime) }, () => {
    let inference: Awaited<ReturnType<typeof listen>>;
    let web: Awaited<ReturnType<typeof listen>>;
    let service: SandboxService;
    let piecesBefore: string[];

    before(async () => {
      inference = await listen((_req, res) => res.end('completion'));
      web = await listen((_req, res) => res.end('page'));
      piecesBefore = networkPieces(base);
      const config: AirlockConfig = {
        ...base,
        service: { ...base.service, pools: [] },
        network: { ...base.network, poolSize: 2, services: { inference: { url: `http://127.0.0.1:${inference.port}`, methods: ['POST'], pathPrefixes: ['/v1/'] } } },
      };
      service = new SandboxService({ config, policyBundleHash: await readBundleHash(policyDirOf(config.policy)) });
      await service.start();
    });

    after(async () => {
      await service.shutdown();
      inference.server.close();
      web.server.close();
      // The pool's namespaces and every sandbox's go with the service.
      assert.deepEqual(networkPieces(base).filter((p) => !piecesBefore.includes(p)), []);
    });

    const fetchIn = (id: string, method: string, url: string) =>
      service.exec(id, { argv: ['python3', '-c', FETCH, method, url], env: {}, stdin: false, timeoutMs: 20_000 }).then(output);

    test('internal service only with its methods and paths; allowlist changed through the service and recorded', async () => {
      const info = await service.create({ runtime, limits: {}, metadata: {}, env: {}, mounts: [], network: { mode: 'restricted', allowedHosts: [], services: ['inference'] } });
      assert.equal(info.network_policy, 'restricted');
      const id = info.sandbox_id;
      assert.equal(await fetchIn(id, 'POST', 'http://inference.airlock.internal/v1/chat'), '200 - completion');
      assert.equal(await fetchIn(id, 'GET', 'http://inference.airlock.internal/v1/chat'), '403 service_method_not_allowed');
      assert.equal(await fetchIn(id, 'POST', 'http://inference.airlock.internal/admin'), '403 service_path_not_allowed');
      assert.deepEqual(inference.seen, ['POST /v1/chat']);
      const webUrl = `http://127.0.0.1:${web.port}/page`;
      assert.match(await fetchIn(id, 'GET', webUrl), /^403 (not_allowlisted|loopback_address)/);
      const changed = await service.setAllowlist(id, [`127.0.0.1:${web.port}`]);
      assert.deepEqual(changed.allowed_hosts, [`127.0.0.1:${web.port}`]);
      assert.equal(await fetchIn(id, 'GET', webUrl), '200 - page');
      const net = service.network(id);
      assert.equal(net.allowlist_changes.length, 1);
      assert.deepEqual(net.services, ['inference']);
      assert.ok(net.decisions.some((d) => !d.allowed && d.reason === 'service_method_not_allowed'));
      assert.ok(net.decisions.some((d) => d.allowed && d.host === '127.0.0.1' && d.port === web.port));
      assert.ok(net.network_tx_bytes > 0 && net.network_rx_bytes > 0);
      assert.deepEqual(service.get(id).allowed_hosts, [`127.0.0.1:${web.port}`]);
      await assert.rejects(service.setAllowlist(id, ['*.com']), /\*\.com/);
      await service.kill(id);
      // An ended sandbox still reports what it sent and received.
      const final = service.network(id);
      assert.ok(final.network_tx_bytes >= net.network_tx_bytes && final.network_tx_bytes > 0, JSON.stringify(final));
    });

    test('rules flushed from the host end a persistent sandbox with a NETWORK violation', async () => {
      const info = await service.create({ runtime, limits: {}, metadata: {}, env: {}, mounts: [], network: { mode: 'restricted', allowedHosts: [], services: [] } });
      const netns = inUseNamespaces();
      assert.equal(netns.length, 1, `namespaces with processes: ${netns.join(', ')}`);
      execFileSync('nft', ['flush', 'table', 'inet', netns[0] as string]);
      for (let i = 0; i < 40 && service.get(info.sandbox_id).state === 'running'; i++) await sleep(50);
      const ended = service.get(info.sandbox_id);
      assert.equal(ended.end_reason, 'network_drift');
      assert.ok(ended.security_violations.some((v) => v.detection_layer === 'NETWORK' && v.violation_type === 'network_drift'));
    });

    test('one-shot executions with restricted networks use the ready namespaces', async () => {
      const result = await service.execute({ agentId: 't', runtime, limits: {}, env: {}, mounts: [], command: ['python3', '-c', FETCH, 'POST', 'http://inference.airlock.internal/v1/x'], network: { mode: 'restricted', allowedHosts: [], services: ['inference'] } });
      assert.equal(result.output, '200 - completion');
      assert.equal(result.termination_reason, 'completed');
    });
  });
}
