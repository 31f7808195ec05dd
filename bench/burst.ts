/**
 * A burst of one-shot executions against a real control plane (bench/burst-server.ts, a process of
 * its own): `requests` concurrent POST /api/v1/sandbox/execute (`sleep 1`), more than the concurrency
 * cap so some are refused with 429, while GET /health is probed every few milliseconds (open loop). Reports
 * /health latency during the burst, the latency of the 429 answers, and the server's event-loop delay.
 * Connections are opened before the burst and each latency runs from the request being written to
 * its socket to the response's last byte: what is timed is the server, not this client's connects.
 */
import { spawn } from 'node:child_process';
import { Agent, request as httpRequest } from 'node:http';
import { createInterface } from 'node:readline';
import { summarize, type Summary } from './stats.ts';

export interface BurstBench {
  requests: number;
  answered: Record<string, number>;
  health: Summary;
  refused429: Summary;
  admitted200: Summary;
  burstSeconds: number;
  /** The server's own view of the burst (see bench/burst-server.ts). */
  server: {
    /** Event-loop delay (monitorEventLoopDelay, ms). */
    p50: number;
    p99: number;
    max: number;
    wallMs: number;
    cpuMs: number;
    /** Time the server was runnable but waiting for a CPU: the machine's load, not the server's work. */
    runQueueWaitMs: number;
    /** Per status code, `request` event → response sent (ms). */
    serverLatency: Record<string, Summary>;
  };
}

const HEALTH_EVERY_MS = 5;
/** Connections the /health probes may use at once, so a stalled answer doesn't hold the next probe back. */
const HEALTH_SOCKETS = 32;
const HOLD_SECONDS = 1;

interface Answer {
  status: number;
  ms: number;
}

/** One request on `agent`; times it from the moment it is written to its socket. */
function send(agent: Agent, url: URL, method: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let written = 0;
    const req = httpRequest(url, { agent, method, headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - written }));
    });
    req.once('finish', () => (written = performance.now()));
    req.once('error', reject);
    req.end(body);
  });
}

/** Fires `requests` concurrent one-shots at a fresh server and measures what the targets name. */
export async function benchBurst(requests: number): Promise<BurstBench> {
  const server = spawn(process.execPath, ['bench/burst-server.ts'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: server.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const line = await lines.next();
    if (line.done === true) throw new Error('bench server exited');
    return JSON.parse(line.value) as Record<string, unknown>;
  };
  const burstAgent = new Agent({ keepAlive: true, maxSockets: requests });
  const healthAgent = new Agent({ keepAlive: true, maxSockets: HEALTH_SOCKETS });
  try {
    const { address } = (await next()) as { address: string };
    const executeUrl = new URL('/api/v1/sandbox/execute', address);
    const healthUrl = new URL('/health', address);
    // Each admitted run holds its slot for a while, so the burst really meets the cap.
    const body = JSON.stringify({ agent_id: 'bench', command: ['/bin/sleep', String(HOLD_SECONDS)] });
    // Warm up: one sandbox start (one-time costs), and every connection of the burst opened.
    await send(burstAgent, executeUrl, 'POST', body);
    await Promise.all(Array.from({ length: requests }, () => send(burstAgent, healthUrl, 'GET')));
    await Promise.all(Array.from({ length: HEALTH_SOCKETS }, () => send(healthAgent, healthUrl, 'GET')));
    server.stdin.write('reset\n');

    // Open loop: a probe every few ms whether or not the last one was answered, each timed from
    // when it was due, so a stalled server shows in every probe it held up, not only in one.
    const health: number[] = [];
    const probes: Promise<void>[] = [];
    const poller = setInterval(() => {
      const due = performance.now();
      probes.push(send(healthAgent, healthUrl, 'GET').then(() => void health.push(performance.now() - due)));
    }, HEALTH_EVERY_MS);

    const t0 = performance.now();
    const answers = await Promise.all(Array.from({ length: requests }, () => send(burstAgent, executeUrl, 'POST', body)));
    const burstSeconds = (performance.now() - t0) / 1000;
    clearInterval(poller);
    await Promise.all(probes);
    server.stdin.write('report\n');
    const report = (await next()) as BurstBench['server'];
    const answered: Record<string, number> = {};
    for (const a of answers) answered[a.status] = (answered[a.status] ?? 0) + 1;
    const timesOf = (status: number) => answers.filter((a) => a.status === status).map((a) => a.ms);
    return { requests, answered, health: summarize(health), refused429: summarize(timesOf(429)), admitted200: summarize(timesOf(200)), burstSeconds, server: report };
  } finally {
    burstAgent.destroy();
    healthAgent.destroy();
    server.stdin.end();
    await new Promise((r) => server.once('close', r));
  }
}
