/**
 * An HTTP load client in a process of its own (`node bench/http-load.ts URL WORKERS SECONDS BODY`):
 * POSTs BODY to URL back to back on WORKERS connections for SECONDS and prints
 * `{"perSecond":…,"runs":…,"failures":…,"clientCpuMs":…}` (its own CPU, so that a caller measuring
 * the host's can leave the client's out). Why a process: a client on the server's own event loop would
 * charge the client's parsing and scheduling to the server under test, as no real client does.
 */
import { rate } from './rate.ts';

const [url, workers, seconds, body] = process.argv.slice(2);
if (url === undefined || workers === undefined || seconds === undefined || body === undefined) {
  process.stderr.write('usage: node bench/http-load.ts URL WORKERS SECONDS BODY\n');
  process.exit(2);
}
let failures = 0;
const post = async () => {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const result = (await res.json()) as { exit_code?: number };
  if (!res.ok || result.exit_code !== 0) throw new Error(`HTTP ${res.status}`);
};
const cpu0 = process.cpuUsage();
const { perSecond, runs } = await rate(Number(workers), Number(seconds), post, () => void failures++);
const cpu = process.cpuUsage(cpu0);
process.stdout.write(`${JSON.stringify({ perSecond, runs, failures, clientCpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
