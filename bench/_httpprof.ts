import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { benchConfig, releaseBenchConfig } from './config.ts';
import { SandboxService } from '../src/sandbox/service.ts';
import { policyDirOf, readBundleHash } from '../src/policy/bundle-files.ts';
import { buildApp } from '../src/api/app.ts';
import { createLoopbackAccess } from '../src/admission/loopback-access.ts';
const config = benchConfig();
const service = new SandboxService({ config: { ...config, service: { ...config.service, pools: [] } }, policyBundleHash: await readBundleHash(policyDirOf(config.policy)) });
await service.start();
const app = buildApp({ service, access: await createLoopbackAccess({ config }), limits: { defaults: config.defaults, maxima: config.maxima } });
const url = await app.listen({ host: '127.0.0.1', port: 0 });
const body = JSON.stringify({ agent_id: 'bench', command: ['/bin/true'] });
const run = (s: number) => promisify(execFile)(process.execPath, ['bench/http-load.ts', `${url}/api/v1/sandbox/execute`, '4', String(s), body]);
await run(2);
const t0 = process.cpuUsage();
const { stdout } = await run(Number(process.argv[2] ?? 8));
const cpu = process.cpuUsage(t0);
const out = JSON.parse(stdout);
console.log('rss MB', (process.memoryUsage().rss / 2 ** 20).toFixed(0), 'heap', (process.memoryUsage().heapUsed / 2 ** 20).toFixed(0));
console.log(out.runs, 'runs', ((cpu.user + cpu.system) / 1000 / out.runs).toFixed(2), 'ms server CPU per run', out.perSecond.toFixed(1), '/s');
const { spawn } = await import('node:child_process');
const one = () => new Promise((r) => spawn('/bin/true', [], { stdio: 'ignore' }).once('exit', r));
for (let i = 0; i < 20; i++) await one();
const c0 = process.cpuUsage(); const w0 = performance.now();
for (let i = 0; i < 200; i++) await one();
const c1 = process.cpuUsage(c0);
console.log('spawn in server:', ((performance.now() - w0) / 200).toFixed(2), 'ms wall', ((c1.user + c1.system) / 1000 / 200).toFixed(2), 'ms CPU', 'maps', (await import('node:fs')).readFileSync('/proc/self/maps', 'utf8').split('\n').length);
{
  const smaps = (await import('node:fs')).readFileSync('/proc/self/smaps', 'utf8').split('\n');
  const rows: [number, string][] = []; let head = '';
  for (const line of smaps) { if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) head = line; else if (line.startsWith('Rss:')) rows.push([Number(line.split(/\s+/)[1]), head]); }
  rows.sort((a, b) => b[0] - a[0]);
  for (const [kb, h] of rows.slice(0, 15)) console.log(String(kb).padStart(8), 'kB', h.slice(0, 120));
  console.log('anon total', rows.filter(([, h]) => h.split(/\s+/).length < 6 || h.endsWith(' ')).reduce((a, [kb]) => a + kb, 0));
}
await app.close(); await service.shutdown(); releaseBenchConfig(config);
