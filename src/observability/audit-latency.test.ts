/**
 * `airlock_audit_append_duration_seconds` is observed at the audit log's append seam: one sample
 * per committed record of a real log (SQLite store), none for a record the store refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AirlockMetrics } from './metrics.ts';
import { sampleEvent, tempAuditLog } from '../audit/test-audit.ts';

/** The value of `name` (no labels) in the exposition text. */
function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line !== undefined, `${name} is exported`);
  return Number(line.split(' ')[1]);
}

test('each committed audit record is one append-latency sample', async (t) => {
  const { log } = await tempAuditLog(t);
  const metrics = new AirlockMetrics();
  const stop = log.observeAppendLatency((s) => metrics.auditAppended(s));
  await Promise.all([0, 1, 2].map((n) => log.append(sampleEvent(n))));
  await log.append(sampleEvent(3));
  const text = await metrics.render();
  assert.equal(sample(text, 'airlock_audit_append_duration_seconds_count'), 4);
  const sum = sample(text, 'airlock_audit_append_duration_seconds_sum');
  assert.ok(sum > 0 && sum < 60, `latency sum ${sum} s is a real duration`);
  stop();
  await log.append(sampleEvent(4));
  assert.equal(sample(await metrics.render(), 'airlock_audit_append_duration_seconds_count'), 4, 'unsubscribed: no more samples');
});
