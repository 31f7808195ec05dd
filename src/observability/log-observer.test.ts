import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { combineObservers, logObserver } from './log-observer.ts';
import { AirlockMetrics } from './metrics.ts';
import type { EgressDecision } from '../network/proxy/index.ts';

const decision = (over: Partial<EgressDecision>): EgressDecision => ({
  sandboxId: 'x-1', time: new Date(0).toISOString(), kind: 'http', host: 'example.com', port: 443, allowed: true, reason: 'allowlisted', ...over,
});

test('combineObservers forwards each event to every observer that handles it, class methods included', async () => {
  const metrics = new AirlockMetrics();
  const seen: string[] = [];
  const observer = combineObservers(metrics, { egressDecision: (d) => seen.push(`${d.host}:${d.reason}`) });
  observer.egressDecision?.(decision({}));
  observer.egressDecision?.(decision({ host: '169.254.169.254', port: 80, allowed: false, reason: 'cloud_metadata' }));
  assert.deepEqual(seen, ['example.com:allowlisted', '169.254.169.254:cloud_metadata']);
  const text = await metrics.render();
  assert.match(text, /airlock_egress_decisions_total\{decision="allowed",reason="allowlisted",host="example.com",port="443"\} 1/);
  assert.match(text, /airlock_egress_decisions_total\{decision="refused",reason="cloud_metadata",host="169.254.169.254",port="80"\} 1/);
  assert.equal(observer.sandboxCreated !== undefined, true, 'metrics handles sandboxCreated');
});

test('egress host labels are bounded: past 500 distinct hosts the rest count as "other"', async () => {
  const metrics = new AirlockMetrics();
  for (let i = 0; i < 510; i++) metrics.egressDecision(decision({ host: `h${i}.example.com`, allowed: false, reason: 'not_allowlisted' }));
  const text = await metrics.render();
  assert.match(text, /host="other",port="443"\} 10/);
  assert.doesNotMatch(text, /h505\.example\.com/);
});

test('the log observer records egress refusals, allowlist changes and violations', () => {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  const observer = logObserver(logger);
  observer.egressDecision?.(decision({ host: 'evil.example', allowed: false, reason: 'not_allowlisted' }));
  observer.allowlistChanged?.('s-1', ['pypi.org']);
  assert.deepEqual(lines.map((l) => l['msg']), ['egress refused', 'allowlist changed']);
  assert.equal((lines[0]?.['egress'] as EgressDecision).reason, 'not_allowlisted');
  assert.deepEqual(lines[1]?.['allowed_hosts'], ['pypi.org']);
});
