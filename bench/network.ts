/**
 * Network benchmarks:
 * 1. Latency the egress proxy adds: a loopback HTTP GET (small body) against a local `node:http`
 *    server, direct vs through a started egress proxy (absolute-form request), paired, alternating
 *    which goes first. Keep-alive is off on both sides (`agent: false`, so a fresh connection and
 *    `Connection: close` per request, as the proxy's own upstream leg always does).
 * 2. Cold start of `executeOnce` of /bin/true on the namespace driver: network `restricted` with a
 *    pool of ready namespaces (each sample waits, untimed, for the pool to be full again, so every
 *    sample is a pool hit), `restricted` with poolSize 0 (namespace built per request), and `none`,
 *    in rotating order within each round.
 * 3. A breakdown of what `restricted` adds (separately timed, for the explanation): proxy listen +
 *    close, `nsenter --net=` exec, attach/release of each kind, and the three teardown steps.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AirlockConfig } from '../src/config/config.ts';
import type { Image } from '../src/images/image.ts';
import { NamespaceDriver } from '../src/isolation/namespace/driver.ts';
import { findExecutable } from '../src/host/which.ts';
import { NetworkManager } from '../src/network/manager.ts';
import { findNetTools, runTool } from '../src/network/host-tools.ts';
import { describeSlot } from '../src/network/slots.ts';
import type { NetworkRequest } from '../src/network/policy.ts';
import { parseAllowlist, startEgressProxy, type EgressDecision } from '../src/network/proxy/index.ts';
import { executeOnce, type ExecutionRequest } from '../src/sandbox/execute.ts';
import { BASE_ENV } from '../src/sandbox/prepare.ts';
import { spawnWait } from './spawn-wait.ts';
import { summarize, timeRuns, type Summary } from './stats.ts';
import type { PairResult } from './namespace.ts';

export interface NetworkBench {
  pairs: PairResult[];
  proxy: {
    keepAlive: false;
    bodyBytes: number;
    direct: Summary;
    proxied: Summary;
    /** proxied pN − direct pN. */
    added: { p50: number; p90: number; p99: number };
    /** Per-pair differences (proxied − direct of the same round). */
    pairedDifference: Summary;
    decisions: Record<string, number>;
  };
  coldStart: {
    poolSize: number;
    /** How many restricted (pooled) samples found a ready namespace: must equal n. */
    poolHits: number;
    none: { coldStart: Summary; wall: Summary };
    restrictedPooled: { coldStart: Summary; wall: Summary };
    restrictedUnpooled: { coldStart: Summary; wall: Summary };
  };
  breakdown: {
    proxyListenClose: Summary;
    nsenter: { viaNsenter: Summary; direct: Summary };
    attach: { none: Summary; restrictedPooled: Summary; restrictedUnpooled: Summary };
    release: { restrictedPooled: Summary };
    /** The three steps of a slot's teardown (destroySlotNetwork), each timed on its own. */
    teardown: { linkDel: Summary; netnsDel: Summary; nftDeleteTable: Summary };
  };
}

const POOL_SIZE = 4;
const BODY = 'x'.repeat(64);

export async function benchNetwork(config: AirlockConfig, image: Image, n: number): Promise<NetworkBench> {
  const proxy = await proxyLatency(Math.max(20, n * 10));
  const cold = await coldStart(config, image, n);
  const breakdown = await restrictedBreakdown(config, Math.min(n, 100));
  const pairs: PairResult[] = [
    { name: 'proxy: loopback GET via egress proxy vs direct (no keep-alive)', subject: proxy.proxied, baseline: proxy.direct, subjectLabel: 'via proxy', baselineLabel: 'direct' },
    { name: 'executeOnce /bin/true cold_start_time_ms: restricted (pool) vs none', subject: cold.restrictedPooled.coldStart, baseline: cold.none.coldStart, subjectLabel: 'restricted, pooled', baselineLabel: 'none' },
    { name: 'executeOnce /bin/true cold_start_time_ms: restricted (poolSize 0) vs none', subject: cold.restrictedUnpooled.coldStart, baseline: cold.none.coldStart, subjectLabel: 'restricted, unpooled', baselineLabel: 'none' },
    { name: 'executeOnce /bin/true wall: restricted (pool) vs none', subject: cold.restrictedPooled.wall, baseline: cold.none.wall, subjectLabel: 'restricted, pooled', baselineLabel: 'none' },
    { name: 'executeOnce /bin/true wall: restricted (poolSize 0) vs none', subject: cold.restrictedUnpooled.wall, baseline: cold.none.wall, subjectLabel: 'restricted, unpooled', baselineLabel: 'none' },
  ];
  return { pairs, proxy, coldStart: cold, breakdown };
}

/** One GET with a fresh connection; resolves once the whole body has arrived. */
function get(options: http.RequestOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request({ ...options, method: 'GET', agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => (res.statusCode === 200 && bytes === BODY.length ? resolve() : reject(new Error(`HTTP ${res.statusCode}, ${bytes} bytes`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function proxyLatency(n: number): Promise<NetworkBench['proxy']> {
  const server = http.createServer({ keepAlive: false }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
    res.end(BODY);
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const port = (server.address() as AddressInfo).port;
  const decisions: Record<string, number> = {};
  const proxy = await startEgressProxy({
    sandboxId: 'bench-proxy',
    host: '127.0.0.1',
    port: 0,
    allow: parseAllowlist([`127.0.0.1:${port}`]),
    services: [],
    controllerListeners: () => [],
    onDecision: (d: EgressDecision) => {
      const key = `${d.allowed ? 'allowed' : 'denied'}:${d.reason}`;
      decisions[key] = (decisions[key] ?? 0) + 1;
    },
  });
  const proxyUrl = new URL(proxy.url);
  const direct = () => get({ host: '127.0.0.1', port, path: '/' });
  const viaProxy = () => get({ host: proxyUrl.hostname, port: Number(proxyUrl.port), path: `http://127.0.0.1:${port}/`, headers: { host: `127.0.0.1:${port}` } });
  try {
    const [proxied, plain] = await timeAlternating(n, 200, viaProxy, direct);
    const p = summarize(proxied);
    const d = summarize(plain);
    return {
      keepAlive: false,
      bodyBytes: BODY.length,
      direct: d,
      proxied: p,
      added: { p50: p.p50 - d.p50, p90: p.p90 - d.p90, p99: p.p99 - d.p99 },
      pairedDifference: summarize(proxied.map((x, i) => x - (plain[i] as number))),
      decisions,
    };
  } finally {
    await proxy.close();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** Like timePaired, but the first of each pair alternates, so neither always runs on a just-warmed path. */
async function timeAlternating(n: number, warmup: number, a: () => Promise<void>, b: () => Promise<void>): Promise<[number[], number[]]> {
  for (let i = 0; i < warmup; i++) {
    await a();
    await b();
  }
  const sa: number[] = [];
  const sb: number[] = [];
  const time = async (fn: () => Promise<void>, into: number[]) => {
    const t0 = performance.now();
    await fn();
    into.push(performance.now() - t0);
  };
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      await time(a, sa);
      await time(b, sb);
    } else {
      await time(b, sb);
      await time(a, sa);
    }
  }
  return [sa, sb];
}

const RESTRICTED: NetworkRequest = { mode: 'restricted', allowedHosts: ['example.com'], services: [] };
const NONE: NetworkRequest = { mode: 'none', allowedHosts: [], services: [] };

async function coldStart(config: AirlockConfig, image: Image, n: number): Promise<NetworkBench['coldStart']> {
  const driver = new NamespaceDriver({ config });
  const pooled = new NetworkManager({ config, poolSize: POOL_SIZE });
  const unpooled = new NetworkManager({ config, poolSize: 0 });
  pooled.start();
  await pooled.filled();
  const request = (network: NetworkRequest): ExecutionRequest => ({
    image,
    limits: config.defaults,
    env: { ...BASE_ENV },
    mounts: [],
    workdir: '/tmp',
    argv: ['/bin/true'],
    network,
  });
  const samples = { none: { cold: [] as number[], wall: [] as number[] }, pooled: { cold: [] as number[], wall: [] as number[] }, unpooled: { cold: [] as number[], wall: [] as number[] } };
  let poolHits = 0;
  const kinds = [
    { key: 'none' as const, manager: pooled, network: NONE },
    { key: 'pooled' as const, manager: pooled, network: RESTRICTED },
    { key: 'unpooled' as const, manager: unpooled, network: RESTRICTED },
  ];
  const one = async (kind: (typeof kinds)[number], record: boolean) => {
    // Untimed: the pool is full again and no refill runs in the background of the next sample.
    await pooled.filled();
    if (kind.key === 'pooled' && pooled.readyCount() > 0 && record) poolHits++;
    const t0 = performance.now();
    const result = await executeOnce(request(kind.network), { driver, network: kind.manager, policyHash: 'bench' });
    const wall = performance.now() - t0;
    if (!result.success || result.termination_reason !== 'completed') throw new Error(`${kind.key}: ${result.termination_reason}: ${result.error ?? ''}`);
    if (!record) return;
    samples[kind.key].cold.push(result.cold_start_time_ms);
    samples[kind.key].wall.push(wall);
  };
  try {
    for (let i = 0; i < 5; i++) for (const kind of kinds) await one(kind, false);
    for (let i = 0; i < n; i++) {
      // Rotate which kind goes first, so none of them always follows the same one.
      for (let k = 0; k < kinds.length; k++) await one(kinds[(i + k) % kinds.length] as (typeof kinds)[number], true);
    }
  } finally {
    await pooled.close();
    await unpooled.close();
  }
  const both = (s: { cold: number[]; wall: number[] }) => ({ coldStart: summarize(s.cold), wall: summarize(s.wall) });
  return { poolSize: POOL_SIZE, poolHits, none: both(samples.none), restrictedPooled: both(samples.pooled), restrictedUnpooled: both(samples.unpooled) };
}

/** What `restricted` adds over `none`, piece by piece (each timed on its own). */
async function restrictedBreakdown(config: AirlockConfig, n: number): Promise<NetworkBench['breakdown']> {
  // The proxy's own start-up: listen on a loopback port, then close.
  const proxyListenClose = summarize(
    await timeRuns(n, 5, async () => {
      const p = await startEgressProxy({ sandboxId: 'bench-listen', host: '127.0.0.1', port: 0, allow: [], services: [], controllerListeners: () => [], onDecision: () => undefined });
      await p.close();
    }),
  );

  const pooled = new NetworkManager({ config, poolSize: POOL_SIZE });
  const unpooled = new NetworkManager({ config, poolSize: 0 });
  pooled.start();
  await pooled.filled();
  try {
    // Entering a prepared namespace: the launcher prefix the driver adds for attached networks.
    const nsenter = findExecutable('nsenter') as string;
    const uid = config.hostUidBase + config.hostUidCount - 1;
    const holder = await unpooled.attach('bench-nsenter', RESTRICTED);
    let viaNsenter: number[];
    let direct: number[];
    try {
      const net = holder.sandboxNetwork;
      if (net.kind !== 'attached') throw new Error('restricted attachment without a namespace');
      [viaNsenter, direct] = await timeAlternating(
        n,
        5,
        () => spawnWait(nsenter, [`--net=${net.netnsPath}`, '-S', String(uid), '-G', String(uid), '--', '/bin/true']),
        () => spawnWait('/bin/true', [], { uid, gid: uid }),
      );
    } finally {
      await holder.release();
    }

    // attach (and release) by kind, rotating; the pool is full before every pooled attach.
    const attachNone: number[] = [];
    const attachPooled: number[] = [];
    const attachUnpooled: number[] = [];
    const releasePooled: number[] = [];
    const time = async (manager: NetworkManager, request: NetworkRequest, into: number[], releaseInto?: number[]) => {
      await pooled.filled();
      const t0 = performance.now();
      const a = await manager.attach('bench-attach', request);
      into.push(performance.now() - t0);
      const t1 = performance.now();
      await a.release();
      releaseInto?.push(performance.now() - t1);
    };
    for (let i = 0; i < n + 3; i++) {
      const warm = i < 3;
      const order = [
        () => time(pooled, NONE, warm ? [] : attachNone),
        () => time(pooled, RESTRICTED, warm ? [] : attachPooled, warm ? [] : releasePooled),
        () => time(unpooled, RESTRICTED, warm ? [] : attachUnpooled),
      ];
      for (let k = 0; k < order.length; k++) await (order[(i + k) % order.length] as () => Promise<void>)();
    }

    // Teardown step by step, as destroySlotNetwork runs it (link, namespace, table), on slots built
    // per request; release() afterwards frees the proxy and the lease (its own deletes find nothing).
    const tools = findNetTools();
    const linkDel: number[] = [];
    const netnsDel: number[] = [];
    const nftDel: number[] = [];
    const step = async (into: number[], path: string, args: string[]) => {
      const t0 = performance.now();
      await runTool(path, args);
      into.push(performance.now() - t0);
    };
    for (let i = 0; i < Math.min(n, 50); i++) {
      const a = await unpooled.attach('bench-teardown', RESTRICTED);
      try {
        const net = a.sandboxNetwork;
        const index = net.kind === 'attached' ? Number(/(\d+)$/.exec(net.netnsPath)?.[1]) : Number.NaN;
        if (!Number.isInteger(index)) throw new Error('restricted attachment without a slot namespace');
        const slot = describeSlot(config.network.subnet, index);
        await step(linkDel, tools.ip, ['link', 'del', slot.hostLink]);
        await step(netnsDel, tools.ip, ['netns', 'del', slot.netns]);
        await step(nftDel, tools.nft, ['delete', 'table', 'inet', slot.table]);
      } finally {
        await a.release();
      }
    }
    return {
      proxyListenClose,
      nsenter: { viaNsenter: summarize(viaNsenter), direct: summarize(direct) },
      attach: { none: summarize(attachNone), restrictedPooled: summarize(attachPooled), restrictedUnpooled: summarize(attachUnpooled) },
      release: { restrictedPooled: summarize(releasePooled) },
      teardown: { linkDel: summarize(linkDel), netnsDel: summarize(netnsDel), nftDeleteTable: summarize(nftDel) },
    };
  } finally {
    await pooled.close();
    await unpooled.close();
  }
}
