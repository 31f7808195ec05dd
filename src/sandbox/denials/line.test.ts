import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parseHelperLine, syscallNames } from './line.ts';
import { patternOf } from './patterns.ts';
import { DEFAULT_RESPONSE_POLICY, responseFor, strongest } from './response.ts';
import { DenialTally } from './tally.ts';

const names = syscallNames();

it('parses a denial line: syscall named for its ABI, auid and cgroup kept, comm with spaces', () => {
  const parsed = parseHelperLine('d 42 1234 272 c000003e 0x50000 2046820353 /airlock/s-1 my prog', names);
  assert.deepEqual(parsed, {
    kind: 'denial',
    denial: { serial: 42, pid: 1234, syscallNr: 272, syscall: 'unshare', arch: 'c000003e', code: '0x50000', auid: 2046820353, cgroup: '/airlock/s-1', comm: 'my prog' },
  });
  const gone = parseHelperLine('d 43 1234 99999 c000003e 0x50000 4294967295 - x', names);
  assert.equal(gone?.kind === 'denial' && gone.denial.syscall, 'syscall_99999');
  assert.equal(gone?.kind === 'denial' && gone.denial.cgroup, undefined);
});

it('parses control lines and refuses malformed ones', () => {
  assert.deepEqual(parseHelperLine('ready', names), { kind: 'ready' });
  assert.deepEqual(parseHelperLine('sync 7', names), { kind: 'sync', id: '7' });
  assert.deepEqual(parseHelperLine('lost 1', names), { kind: 'lost', count: 1 });
  assert.deepEqual(parseHelperLine('fail audit multicast: Operation not permitted', names), { kind: 'fail', reason: 'audit multicast: Operation not permitted' });
  assert.equal(parseHelperLine('d 1 2 x c000003e 0x50000 1 / c', names), undefined);
  assert.equal(parseHelperLine('d 1 2', names), undefined);
  assert.equal(parseHelperLine('garbage', names), undefined);
});

it('maps denied calls to escape patterns and severities', () => {
  assert.deepEqual(patternOf('unshare'), { pattern: 'namespace_escape', severity: 'CRITICAL' });
  assert.deepEqual(patternOf('setns'), { pattern: 'namespace_escape', severity: 'CRITICAL' });
  assert.deepEqual(patternOf('mount'), { pattern: 'mount_escape', severity: 'CRITICAL' });
  assert.deepEqual(patternOf('bpf'), { pattern: 'kernel_surface', severity: 'HIGH' });
  assert.deepEqual(patternOf('syslog'), { pattern: 'forbidden_syscall', severity: 'MEDIUM' });
});

it('responds per severity; the strongest response wins', () => {
  assert.equal(responseFor('CRITICAL'), DEFAULT_RESPONSE_POLICY.CRITICAL);
  assert.equal(responseFor('LOW', { LOW: 'kill_and_revoke', MEDIUM: 'record', HIGH: 'record', CRITICAL: 'record' }), 'kill_and_revoke');
  assert.equal(strongest('record', 'kill'), 'kill');
  assert.equal(strongest('kill_and_revoke', 'kill'), 'kill_and_revoke');
});

it('a tally counts every denial and lists one violation per syscall with a stable id', () => {
  const tally = new DenialTally();
  const d = { serial: 1, pid: 10, syscallNr: 165, syscall: 'mount', arch: 'c000003e', code: '0x50000', auid: 1, cgroup: undefined, comm: 'sh' };
  for (let i = 0; i < 1000; i++) tally.add({ ...d, pid: 10 + i });
  tally.add({ ...d, syscall: 'unshare' });
  assert.equal(tally.total, 1001);
  const first = tally.violations();
  const mount = first.find((v) => v.indicators['syscall'] === 'mount');
  assert.equal(mount?.indicators['count'], 1000);
  assert.equal((mount?.indicators['processes'] as unknown[]).length, 8, 'samples are bounded');
  assert.equal(tally.violations().find((v) => v.indicators['syscall'] === 'mount')?.violation_id, mount?.violation_id);
});
