import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeSlot, slotSpace } from './slots.ts';

describe('slot spaces', () => {
  it('the default space keeps the historical names and lease directory', () => {
    assert.deepEqual(slotSpace(), { netns: 'airlock-n', link: 'al-n', leaseDir: '/run/airlock-net' });
    const slot = describeSlot('10.213.0.0/16', 5);
    assert.equal(slot.netns, 'airlock-n5');
    assert.equal(slot.hostLink, 'al-n5');
  });

  it('a tagged space names and leases apart, and its names never read as default-space names', () => {
    const slot = describeSlot('10.150.0.0/16', 16383, 'ab12');
    assert.equal(slot.netns, 'airlock-nab12-16383');
    assert.equal(slot.table, 'airlock-nab12-16383');
    assert.equal(slot.hostLink, 'al-nab12-16383');
    assert.ok(slot.hostLink.length <= 15, 'host link names fit IFNAMSIZ');
    assert.equal(slotSpace('ab12').leaseDir, '/run/airlock-net-ab12');
    // The default space's reaper only takes `airlock-n` followed by digits.
    assert.doesNotMatch(slot.netns.slice('airlock-n'.length), /^\d+$/);
  });
});
