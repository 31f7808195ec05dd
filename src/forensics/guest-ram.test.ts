import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findGuestRam } from './guest-ram.ts';

const MiB = 1024 * 1024;
const line = (start: number, bytes: number, perms: string, path = '') => `${start.toString(16)}-${(start + bytes).toString(16)} ${perms} 00000000 00:00 0 ${path}`;

test('the guest RAM is the one read-write mapping of exactly its size', () => {
  const maps = [line(0x7f0000000000, 64 * MiB, 'rwxp'), line(0x7f1000000000, 352 * MiB, 'rw-p'), line(0x7f2000000000, 352 * MiB, 'r--p', '/usr/lib/x')].join('\n');
  const found = findGuestRam(maps, 352 * MiB);
  assert.ok('start' in found);
  assert.equal(found.start, 0x7f1000000000n);
});

test('none, or two, of that size: refused with the count, never a guess', () => {
  assert.deepEqual(findGuestRam(line(0x1000, 16 * MiB, 'rw-p'), 352 * MiB), { reason: "the VMM has 0 read-write mappings of the guest's RAM size (369098752 bytes); expected exactly one" });
  const two = [line(0x7f1000000000, 352 * MiB, 'rw-p'), line(0x7f3000000000, 352 * MiB, 'rw-s', '/memfd:ram (deleted)')].join('\n');
  const found = findGuestRam(two, 352 * MiB);
  assert.ok('reason' in found && /has 2 read-write mappings/.test(found.reason), JSON.stringify(found));
});
