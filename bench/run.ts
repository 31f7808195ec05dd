/**
 * `npm run bench`: ratios of airlock against the raw engines, measured in one run on one machine.
 * Prints a Markdown table and writes bench/results/<timestamp>.json. Usage:
 *   node bench/run.ts [--n 200] [--only namespace,gvisor,cli,service,pool,throughput,network,burst,admission,gvisor-idle,namespace-idle,audit,redaction,brokered-https,image-reverify,image-pull,image-import,mcp-proxy,mcp-scan,mcp-server,write-watch,microvm] [--idle 100] [--ns-idle 500,1000]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { benchConfig, releaseBenchConfig } from './config.ts';
import { resolveImage } from '../src/images/store.ts';
import { detectCgroups } from '../src/isolation/cgroups/index.ts';
import { benchNamespace, type PairResult } from './namespace.ts';
import { benchGvisor } from './gvisor.ts';
import { benchGvisorIdle, type IdleBench } from './gvisor-idle.ts';
import { benchNamespaceIdle, type NamespaceIdleBench } from './namespace-idle.ts';
import { benchCli } from './cli.ts';
import { benchService, type ServiceBench } from './service.ts';
import { benchNetwork, type NetworkBench } from './network.ts';
import { benchBurst, type BurstBench } from './burst.ts';
import { benchAdmission, type AdmissionBench } from './admission.ts';
import { auditLines, benchAudit, type AuditBench } from './audit.ts';
import { benchPool } from './pool.ts';
import { benchThroughput, type ThroughputBench } from './throughput.ts';
import { benchRedaction, redactionLines, type RedactionBench } from './redaction.ts';
import { benchBrokeredHttps, brokeredHttpsLines, type BrokeredHttpsBench } from './brokered-https.ts';
import { benchImageReverify, imageReverifyLines, type ImageReverifyBench } from './image-reverify.ts';
import { benchImagePull, imagePullLines, type ImagePullBench } from './image-pull.ts';
import { benchImageImport, imageImportLines, type ImageImportBench } from './image-import.ts';
import { benchMcpProxy, mcpProxyLines, type McpProxyBench } from './mcp-proxy.ts';
import { benchMcpScan, mcpScanLines, type McpScanBench } from './mcp-scan.ts';
import { benchMcpServer, mcpServerLines, type McpServerBench } from './mcp-server.ts';
import { benchWriteWatch, writeWatchLines, type WriteWatchBench } from './write-watch.ts';
import { benchMicrovm, microvmLines, type MicrovmBench } from './microvm.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '200' }, idle: { type: 'string', default: '100' }, 'ns-idle': { type: 'string', default: '500,1000' }, only: { type: 'string', default: 'namespace,gvisor,cli,service,pool,throughput,network,burst,admission' } } });
const n = Number(values.n);
const only = new Set(values.only.split(','));
const config = benchConfig();
const image = await resolveImage(config, config.defaultImage);

const version = (cmd: string, args: string[]) => {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0]?.trim() ?? '?';
  } catch {
    return 'absent';
  }
};
const machine = {
  cpu: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
  memory_gib: Math.round(totalmem() / 2 ** 30),
  kernel: release(),
  cgroups: `v${detectCgroups().version}`,
  node: process.version,
  bwrap: version('bwrap', ['--version']),
  runsc: version('runsc', ['--version']),
  /** 1/5/15-minute load averages when the run started and when it ended (the machine is shared). */
  load: { start: loadavg().map((x) => Number(x.toFixed(2))), end: [] as number[] },
};

const results: PairResult[] = [];
if (only.has('namespace')) results.push(await benchNamespace(config, image, n));
if (only.has('gvisor')) results.push(...(await benchGvisor(config, image, Math.max(10, Math.round(n / 5)))));
// Not in the default list: it holds --idle gVisor sandboxes (~20 MiB of host memory each) for minutes.
let gvisorIdle: IdleBench | undefined;
if (only.has('gvisor-idle')) gvisorIdle = await benchGvisorIdle(Number(values.idle), Math.max(10, Math.min(Math.round(n / 5), 40)), 30);
// Not in the default list either: it holds up to --ns-idle namespace sandboxes for minutes.
let namespaceIdle: NamespaceIdleBench | undefined;
if (only.has('namespace-idle')) namespaceIdle = await benchNamespaceIdle(values['ns-idle'].split(',').map(Number), Math.max(10, Math.min(Math.round(n / 5), 40)), 30);
if (only.has('cli')) results.push(...(await benchCli(Math.max(10, Math.round(n / 5)))));
let service: ServiceBench | undefined;
if (only.has('service')) {
  service = await benchService(config, image, n);
  results.push(...service.pairs);
}
if (only.has('pool')) results.push(await benchPool(config, Math.min(n, 60)));
let throughput: ThroughputBench | undefined;
if (only.has('throughput')) throughput = await benchThroughput(config, image);
let network: NetworkBench | undefined;
if (only.has('network')) {
  network = await benchNetwork(config, image, n);
  results.push(...network.pairs);
}
let burst: BurstBench | undefined;
if (only.has('burst')) burst = await benchBurst(n);
let admission: AdmissionBench | undefined;
if (only.has('admission')) {
  admission = await benchAdmission(config, Math.min(n, 100));
  results.push(...admission.pairs);
}

// Appends/s and latency per append of the audit log, with and without an fsync per commit.
const audit: AuditBench[] = [];
if (only.has('audit')) for (const sync of ['full', 'normal'] as const) for (const writer of ['inline', 'worker'] as const) audit.push(await benchAudit({ sync, writer }));
// Output redaction throughput (CPU only, no sandbox).
let redaction: RedactionBench | undefined;
if (only.has('redaction')) redaction = benchRedaction(Math.min(n, 10));
// HTTPS interception for brokered secrets: CA, leaf, and a GET blind vs intercepted (no sandbox).
let brokeredHttps: BrokeredHttpsBench | undefined;
if (only.has('brokered-https')) brokeredHttps = await benchBrokeredHttps(Math.min(n, 200));
// One scheduled re-verification of the default image (full re-hash).
let imageReverify: ImageReverifyBench | undefined;
if (only.has('image-reverify')) imageReverify = await benchImageReverify(config, Math.min(n, 5));

// Added latency of a tools/call through the MCP proxy (a fixture server in a namespace sandbox).
let mcpProxy: McpProxyBench | undefined;
if (only.has('mcp-proxy')) mcpProxy = await benchMcpProxy(config, Math.min(n, 500));
// The MCP scanner alone, per definition and per output (CPU only, fixture servers over stdio).
let mcpScan: McpScanBench | undefined;
if (only.has('mcp-scan')) mcpScan = await benchMcpScan(Math.min(n, 200));
let mcpServer: McpServerBench | undefined;
if (only.has('mcp-server')) mcpServer = await benchMcpServer(Math.min(n, 200));
// The namespace write watcher: 5,000 small files with and without it, and 5,000 reported refused writes.
let writeWatch: WriteWatchBench | undefined;
if (only.has('write-watch')) writeWatch = await benchWriteWatch(Math.min(n, 7));
let microvm: MicrovmBench | undefined;
if (only.has('microvm')) microvm = await benchMicrovm(Math.min(n, 5));

// An image pulled from a registry on loopback, against skopeo copy + tar -x (not in the default list: it builds a 128 MiB image).
let imagePull: ImagePullBench | undefined;
if (only.has('image-pull')) imagePull = await benchImagePull(Math.min(n, 3));
// The default image's rootfs as a 2-layer OCI layout, imported against sha256sum + tar -x (not in the default list: ~250 MiB, minutes).
let imageImport: ImageImportBench | undefined;
if (only.has('image-import')) imageImport = await benchImageImport(config, image, Math.min(n, 3), Math.min(n, 100));

machine.load.end = loadavg().map((x) => Number(x.toFixed(2)));
const f = (x: number) => x.toFixed(2);
const lines = [
  `Machine: ${machine.cpu}, ${machine.memory_gib} GiB, Linux ${machine.kernel}, cgroups ${machine.cgroups}, Node ${machine.node}, ${machine.bwrap}, runsc ${machine.runsc}; load average (1/5/15 min) ${machine.load.start.join(' ')} at start, ${machine.load.end.join(' ')} at end`,
  '',
  '| benchmark | n | subject p50 / p95 (ms) | baseline p50 / p95 (ms) | p50 ratio |',
  '|---|---|---|---|---|',
  ...results.map(
    (r) =>
      `| ${r.name} | ${r.subject.n} | ${r.subjectLabel}: ${f(r.subject.p50)} / ${f(r.subject.p95)} | ${r.baselineLabel}: ${f(r.baseline.p50)} / ${f(r.baseline.p95)} | ${f(r.subject.p50 / r.baseline.p50)}× |`,
  ),
];
if (service !== undefined) {
  const r = service.creationRate;
  const s = service.simultaneous;
  lines.push(
    '',
    `Sustained creation (driver create → /bin/true → destroy, ${cpus().length * 2} workers): ${r.sandboxes} sandboxes in ${f(r.seconds)} s = ${f(r.perSecondPerCore)} per second per core; leftovers after: ${r.leftovers}`,
    `50 simultaneous creates: ${s.created} created, ${s.refused429} refused with 429, ${s.failed} failed; latency p50 ${f(s.latency.p50)} ms, p99 ${f(s.latency.p99)} ms`,
  );
}
if (throughput !== undefined) {
  const t = throughput;
  const list = (xs: number[]) => xs.map(f).join(', ');
  lines.push(
    '',
    `Sustained one-shots (/bin/true, ${t.workers} workers on ${t.cores} cores, ${t.perSecond.raw.length} rounds of ${t.windowSeconds} s each): raw bwrap ${list(t.perSecond.raw)}/s; library (executeOnce) ${list(t.perSecond.library)}/s = ${f(t.ratio.library)}× raw; HTTP POST /execute ${list(t.perSecond.http)}/s = ${f(t.ratio.http)}× raw (median of per-round ratios); failures ${t.failures}, leftovers after ${t.leftovers}`,
    `Host CPU per one-shot (all cores, the HTTP client's own left out): raw bwrap ${list(t.cpuMsPerRun.raw)} ms; library ${list(t.cpuMsPerRun.library)} ms = ${f(t.cpuRatio.library)}× raw; HTTP ${list(t.cpuMsPerRun.http)} ms = ${f(t.cpuRatio.http)}× raw`,
    `One spawn of /bin/true (wall / spawning process's CPU, ms): from the controller after the load (${t.spawn.controller.map((c) => `${f(c.rssMb)} MiB resident`).join(', ')}) ${t.spawn.controller.map((c) => `${f(c.wallMs)} / ${f(c.cpuMs)}`).join(', ')}; from a fresh Node process (${t.spawn.fresh.map((c) => `${f(c.rssMb)} MiB`).join(', ')}) ${t.spawn.fresh.map((c) => `${f(c.wallMs)} / ${f(c.cpuMs)}`).join(', ')}`,
  );
}
if (network !== undefined) {
  const p = network.proxy;
  const c = network.coldStart;
  const b = network.breakdown;
  const ratio = (a: number, base: number) => `${f(a / base)}×`;
  lines.push(
    '',
    `Egress proxy, loopback GET (${p.bodyBytes}-byte body, keep-alive off both sides), n ${p.direct.n}: direct p50/p90/p99 ${f(p.direct.p50)} / ${f(p.direct.p90)} / ${f(p.direct.p99)} ms; via proxy ${f(p.proxied.p50)} / ${f(p.proxied.p90)} / ${f(p.proxied.p99)} ms; added ${f(p.added.p50)} / ${f(p.added.p90)} / ${f(p.added.p99)} ms (paired differences p50 ${f(p.pairedDifference.p50)} ms); decisions ${JSON.stringify(p.decisions)}`,
    `Cold start (executeOnce /bin/true, namespace driver), n ${c.none.coldStart.n}, pool ${c.poolSize} (${c.poolHits} pool hits): cold_start_time_ms p50 none ${f(c.none.coldStart.p50)}, restricted pooled ${f(c.restrictedPooled.coldStart.p50)} (${ratio(c.restrictedPooled.coldStart.p50, c.none.coldStart.p50)}), restricted poolSize 0 ${f(c.restrictedUnpooled.coldStart.p50)} (${ratio(c.restrictedUnpooled.coldStart.p50, c.none.coldStart.p50)}); wall p50 none ${f(c.none.wall.p50)}, pooled ${f(c.restrictedPooled.wall.p50)} (${ratio(c.restrictedPooled.wall.p50, c.none.wall.p50)}), poolSize 0 ${f(c.restrictedUnpooled.wall.p50)} (${ratio(c.restrictedUnpooled.wall.p50, c.none.wall.p50)})`,
    `Breakdown (p50, n ${b.proxyListenClose.n}): proxy listen+close ${f(b.proxyListenClose.p50)} ms; nsenter --net= … /bin/true ${f(b.nsenter.viaNsenter.p50)} vs /bin/true ${f(b.nsenter.direct.p50)} ms; attach none ${f(b.attach.none.p50)}, restricted pooled ${f(b.attach.restrictedPooled.p50)}, restricted poolSize 0 ${f(b.attach.restrictedUnpooled.p50)} ms; release restricted ${f(b.release.restrictedPooled.p50)} ms (ip link del ${f(b.teardown.linkDel.p50)}, ip netns del ${f(b.teardown.netnsDel.p50)}, nft delete table ${f(b.teardown.nftDeleteTable.p50)} ms, n ${b.teardown.linkDel.n})`,
  );
}
if (burst !== undefined) {
  const b = burst;
  lines.push(
    '',
    `Burst of ${b.requests} concurrent POST /execute (sleep 1) in ${f(b.burstSeconds)} s, answered ${JSON.stringify(b.answered)}: /health (probed every 5 ms, open loop, n ${b.health.n}) p50 ${f(b.health.p50)} ms, p99 ${f(b.health.p99)} ms, max ${f(b.health.max)} ms; 429 answers (n ${b.refused429.n}) p50 ${f(b.refused429.p50)} ms, p99 ${f(b.refused429.p99)} ms, max ${f(b.refused429.max)} ms; 200 answers p50 ${f(b.admitted200.p50)} ms, p99 ${f(b.admitted200.p99)} ms; server event-loop delay p50 ${f(b.server.p50)} ms, p99 ${f(b.server.p99)} ms, max ${f(b.server.max)} ms; server CPU ${f(b.server.cpuMs)} ms and run-queue wait ${f(b.server.runQueueWaitMs)} ms in ${f(b.server.wallMs)} ms; server-side 429 p50 ${f(b.server.serverLatency['429']?.p50 ?? Number.NaN)} ms, p99 ${f(b.server.serverLatency['429']?.p99 ?? Number.NaN)} ms`,
  );
}
if (admission !== undefined) {
  const d = (label: string, s: { n: number; p50: number; p95: number }) => `${label} p50 ${f(s.p50)} / p95 ${f(s.p95)} ms (n ${s.n})`;
  const p = admission.parts;
  lines.push(
    '',
    ...admission.pairs.map((r) => `Admission, ${r.name}: signed − unsigned p50 ${f(r.subject.p50 - r.baseline.p50)} ms, p95 ${f(r.subject.p95 - r.baseline.p95)} ms; per-pair difference p50 ${f(r.difference.p50)} ms, p95 ${f(r.difference.p95)} ms`),
    `Admission pieces: ${d('sign (client)', p.sign)}; ${d('RequestVerifier.verify (key lookup + Ed25519 + digest + nonce insert)', p.verify)}; ${d('lookupActiveKey', p.lookupActiveKey)}; ${d('nonce checkAndRemember', p.nonceInsert)}; ${d(`Cedar evaluate uncached (execute, mount, restricted network, a distinct sandbox each call: ${p.cedarEvaluate.decision})`, p.cedarEvaluate)}; ${d(`Cedar evaluate cached (the same call again: ${p.cedarEvaluateCached.decision})`, p.cedarEvaluateCached)}`,
  );
}
if (gvisorIdle !== undefined) {
  const g = gvisorIdle;
  const r = (a: number, base: number) => `${f(a / base)}×`;
  lines.push(
    '',
    `${g.idle} idle gVisor sandboxes (persistent, through the service), ${g.windowSeconds} s window: server CPU ${f(g.serverCpuPercent)} % of a core (own + reaped children); the sandboxes' own host CPU ${f(g.sandboxesCpuPercent)} %; memory per sandbox ${f(g.cgroupMemoryPerSandboxMiB)} MiB in its cgroup, ${f(g.hostMemoryPerSandboxMiB)} MiB of host MemAvailable. create p50 ${f(g.createNone.p50)} ms with none idle, ${f(g.createIdle.p50)} ms with ${g.idle} (${r(g.createIdle.p50, g.createNone.p50)}); exec /bin/true p50 ${f(g.execNone.p50)} → ${f(g.execIdle.p50)} ms (${r(g.execIdle.p50, g.execNone.p50)}), n ${g.createNone.n} each`,
  );
}
if (namespaceIdle !== undefined) {
  const z = namespaceIdle;
  lines.push(
    '',
    `Idle namespace sandboxes (persistent, through the service, none idle: create p50 ${f(z.none.create.p50)} ms, exec /bin/true p50 ${f(z.none.exec.p50)} ms, server CPU ${f(z.none.serverCpuPercent.total)} %; the controller's own spawn of /bin/true p50 ${f(z.none.spawnTrue.p50)} ms with ${z.none.controller.fds} descriptors, ${z.none.controller.rssMiB} MiB resident):`,
    ...z.steps.map((s) => `- ${s.idle} idle, ${s.windowSeconds} s window: server CPU ${f(s.serverCpuPercent.total)} % of a core (own ${f(s.serverCpuPercent.own)}, reaped children ${f(s.serverCpuPercent.reaped)}, live children ${f(s.serverCpuPercent.live)}); create p50 ${f(s.create.p50)} ms (${f(s.createRatio)}×), exec p50 ${f(s.exec.p50)} ms (${f(s.execRatio)}×), n ${s.create.n}; spawn of /bin/true p50 ${f(s.spawnTrue.p50)} ms (${f(s.spawnRatio)}×) with ${s.controller.fds} descriptors, ${s.controller.rssMiB} MiB resident; load ${s.load.join(' ')}`),
  );
}
for (const a of audit) lines.push('', ...auditLines(a));
if (redaction !== undefined) lines.push('', ...redactionLines(redaction));
if (brokeredHttps !== undefined) lines.push('', ...brokeredHttpsLines(brokeredHttps));
if (imageReverify !== undefined) lines.push('', ...imageReverifyLines(imageReverify));
if (mcpProxy !== undefined) lines.push('', ...mcpProxyLines(mcpProxy));
if (mcpScan !== undefined) lines.push('', ...mcpScanLines(mcpScan));
if (mcpServer !== undefined) lines.push('', ...mcpServerLines(mcpServer));
if (writeWatch !== undefined) lines.push('', ...writeWatchLines(writeWatch));
if (microvm !== undefined) lines.push('', ...microvmLines(microvm));
if (imagePull !== undefined) lines.push('', ...imagePullLines(imagePull));
if (imageImport !== undefined) lines.push('', ...imageImportLines(imageImport));
process.stdout.write(`${lines.join('\n')}\n`);
mkdirSync('bench/results', { recursive: true });
const file = `bench/results/${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
writeFileSync(file, JSON.stringify({ machine, results, service, throughput, network, burst, admission, gvisorIdle, namespaceIdle, audit, redaction, brokeredHttps, imageReverify, imagePull, imageImport, mcpProxy, mcpScan, mcpServer, writeWatch, microvm }, null, 2));
process.stdout.write(`\nwritten ${file}\n`);
releaseBenchConfig(config);
