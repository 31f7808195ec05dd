/**
 * Debian's real Prometheus against a real `airlock serve` on loopback: the alert rules shipped in
 * docs/alerts.yml load (promtool, then Prometheus evaluates every rule without error), the seed's
 * example PromQL queries return series once a few sandboxes ran, and every query of
 * docs/grafana-dashboard.json is valid PromQL over the exported metrics.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { skipReason } from './environment.ts';
import { isolatedConfig, removeIsolatedState, writeConfigFile } from '../security/lib/runtime.ts';
import { withUnsignedLoopbackOperator } from '../security/lib/isolated-config.ts';
import { stretched } from '../security/lib/emulation.ts';

const RULES = resolve('docs/alerts.yml');
const DASHBOARD = resolve('docs/grafana-dashboard.json');
/** The seed's example queries, verbatim (seed 003, "Example Queries"). */
const SEED_QUERIES = [
  'histogram_quantile(0.95, hardened_sandbox_cold_start_duration_seconds_bucket)',
  'rate(hardened_sandbox_violations_total[5m])',
  'rate(hardened_sandbox_executions_total{result="success"}[5m]) / \nrate(hardened_sandbox_executions_total[5m])',
];

const onPath = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const missing = ['prometheus', 'promtool'].filter((t) => !onPath(t));

// /metrics unauthenticated (a scraper that can't sign) on this file's own state, uids and subnet.
const config = isolatedConfig({ service: { publicMetrics: true } });
const configFile = writeConfigFile(withUnsignedLoopbackOperator(config));
const reason = missing.length > 0 ? `${missing.join(' and ')} not installed (apt-get install prometheus)` : skipReason(config)('namespace');
after(() => {
  const problems = removeIsolatedState(config);
  assert.deepEqual(problems, [], 'the test left state behind');
});

/** A TCP port free on loopback just now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  await new Promise((done) => server.close(done));
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

/** Spawns `argv` and resolves with it and the URL once `ready` matches its output (or throws with the output). */
async function started(argv: string[], ready: (log: string) => string | undefined): Promise<{ child: ChildProcess; url: string; log: () => string }> {
  const [cmd, ...args] = argv as [string, ...string[]];
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  for (let i = 0; i < stretched(600); i++) {
    const url = ready(log);
    if (url !== undefined) return { child, url, log: () => log };
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`${cmd} did not start:\n${log.slice(-4000)}`);
}

/** Prometheus' HTTP API answer for an instant query. */
async function query(prometheus: string, promql: string): Promise<{ status: string; error?: string; data?: { result: unknown[] } }> {
  const res = await fetch(`${prometheus}/api/v1/query?${new URLSearchParams({ query: promql })}`);
  return (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
}

/** Polls until `check` returns true (or the time is up); returns the last value of `check`. */
async function eventually(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + stretched(ms);
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(500);
  }
  return check();
}

describe('Prometheus scrapes airlock serve', { skip: reason }, () => {
  let airlock: Awaited<ReturnType<typeof started>> | undefined;
  let prometheus: Awaited<ReturnType<typeof started>> | undefined;

  before(async () => {
    airlock = await started([process.execPath, 'bin/airlock.js', 'serve', '--port', '0', '--config', configFile], (log) => /"address":"(http:\/\/[^"]+)"/.exec(log)?.[1]);
    const target = new URL(airlock.url).host;
    const dir = join(config.stateDir, 'prometheus');
    mkdirSync(join(dir, 'data'), { recursive: true });
    const promConfig = join(dir, 'prometheus.yml');
    writeFileSync(
      promConfig,
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        `rule_files: [${JSON.stringify(RULES)}]`,
        'scrape_configs:',
        `  - { job_name: airlock, metrics_path: /metrics, static_configs: [{ targets: [${JSON.stringify(target)}] }] }`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    prometheus = await started(
      ['prometheus', `--config.file=${promConfig}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
      (log) => (log.includes('Server is ready to receive web requests') ? `http://127.0.0.1:${port}` : undefined),
    );
  });

  after(async () => {
    for (const p of [prometheus, airlock]) {
      if (p === undefined || p.child.exitCode !== null) continue;
      const exited = new Promise((done) => p.child.once('exit', done));
      p.child.kill('SIGTERM');
      await exited;
    }
  });

  test('promtool accepts docs/alerts.yml', () => {
    const out = execFileSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
    assert.match(out, /SUCCESS: \d+ rules found/);
  });

  test("the seed's example queries return series after sandboxes ran; every rule evaluates", async () => {
    assert.ok(airlock !== undefined && prometheus !== undefined);
    const execute = async (body: Record<string, unknown>): Promise<Record<string, unknown>> => {
      const res = await fetch(`${airlock?.url}/api/v1/sandbox/execute`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ agent_id: 'prometheus-test', runtime: 'namespace', ...body }),
      });
      const json = (await res.json()) as Record<string, unknown>;
      assert.ok(res.ok, `execute: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    for (let i = 0; i < 3; i++) assert.equal((await execute({ command: ['true'] }))['success'], true);
    // A run stopped at its timeout: a (LOW) timeout violation, so the violation counter has a series.
    const stopped = await execute({ command: ['sleep', '30'], timeout_seconds: 1 });
    assert.equal(stopped['termination_reason'], 'timeout');

    const up = await eventually(async () => {
      const r = await query(prometheus!.url, 'up{job="airlock"} == 1');
      return (r.data?.result.length ?? 0) === 1;
    }, 30_000);
    assert.ok(up, `Prometheus scrapes airlock (up == 1):\n${prometheus.log().slice(-2000)}`);

    for (const promql of SEED_QUERIES) {
      let last: Awaited<ReturnType<typeof query>> | undefined;
      // rate() needs two scrapes of a series inside its window: a few seconds at 1 s scrapes.
      const ok = await eventually(async () => {
        last = await query(prometheus!.url, promql);
        return last.status === 'success' && (last.data?.result.length ?? 0) > 0;
      }, 30_000);
      assert.ok(ok, `${promql}: ${JSON.stringify(last)}`);
    }
    // The audit append latency the dashboard shows is exported and observed.
    const audit = await query(prometheus.url, 'airlock_audit_append_duration_seconds_count > 0');
    assert.equal(audit.data?.result.length, 1, JSON.stringify(audit));

    // Every rule of docs/alerts.yml was evaluated by Prometheus without error.
    let rules: { name: string; health: string; lastError?: string }[] = [];
    const evaluated = await eventually(async () => {
      const res = (await (await fetch(`${prometheus!.url}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } };
      rules = res.data.groups.flatMap((g) => g.rules);
      return rules.length > 0 && rules.every((r) => r.health === 'ok');
    }, 15_000);
    const expected = (readFileSync(RULES, 'utf8').match(/^\s+- (alert|record): /gm) ?? []).length;
    assert.equal(rules.length, expected, 'Prometheus loaded every rule of docs/alerts.yml');
    assert.ok(evaluated, `every rule evaluates: ${JSON.stringify(rules.filter((r) => r.health !== 'ok'))}`);
  });

  test('every query of docs/grafana-dashboard.json is valid PromQL', async () => {
    assert.ok(prometheus !== undefined);
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[] };
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })));
    assert.ok(exprs.length >= 10, 'the dashboard has its queries');
    for (const { title, expr } of exprs) {
      // Grafana's variables as Grafana would fill them in.
      const promql = expr.replaceAll('$__rate_interval', '1m').replaceAll('$runtime', '.*');
      const r = await query(prometheus.url, promql);
      assert.equal(r.status, 'success', `${title}: ${promql}: ${r.error ?? ''}`);
    }
  });
});
