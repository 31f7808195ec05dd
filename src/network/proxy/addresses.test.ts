import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ABSOLUTE_ADDRESS_REASONS, createAddressClassifier } from './addresses.ts';
import { DENY_REASONS } from './reasons.ts';

describe('createAddressClassifier', () => {
  const classify = createAddressClassifier(() => ['203.0.114.7', 'fe80::1%eth0', '2a00:1450::7']);

  const table: [string, string | null][] = [
    ['0.0.0.0', 'unspecified_address'],
    ['0.1.2.3', 'unspecified_address'],
    ['::', 'unspecified_address'],
    ['127.0.0.1', 'loopback_address'],
    ['127.255.255.254', 'loopback_address'],
    ['::1', 'loopback_address'],
    ['10.0.0.1', 'private_address'],
    ['172.16.0.1', 'private_address'],
    ['172.31.255.255', 'private_address'],
    ['192.168.1.1', 'private_address'],
    ['100.64.0.1', 'cgnat_address'],
    ['100.127.255.255', 'cgnat_address'],
    ['169.254.1.1', 'link_local_address'],
    ['fe80::1234', 'link_local_address'],
    ['169.254.169.254', 'cloud_metadata'],
    ['169.254.170.2', 'cloud_metadata'],
    ['100.100.100.200', 'cloud_metadata'],
    ['168.63.129.16', 'cloud_metadata'],
    ['fd00:ec2::254', 'cloud_metadata'],
    ['::ffff:169.254.169.254', 'cloud_metadata'],
    ['fc00::1', 'unique_local_address'],
    ['fd12:3456::1', 'unique_local_address'],
    ['fec0::1', 'site_local_address'],
    ['224.0.0.1', 'multicast_address'],
    ['239.255.255.250', 'multicast_address'],
    ['ff02::1', 'multicast_address'],
    ['240.0.0.1', 'reserved_address'],
    ['255.255.255.255', 'broadcast_address'],
    ['192.0.0.8', 'reserved_address'],
    ['192.0.2.1', 'documentation_address'],
    ['198.51.100.1', 'documentation_address'],
    ['203.0.113.1', 'documentation_address'],
    ['2001:db8::1', 'documentation_address'],
    ['198.18.0.1', 'benchmarking_address'],
    ['198.19.255.255', 'benchmarking_address'],
    ['64:ff9b::7f00:1', 'nat64_address'],
    ['64:ff9b::808:808', 'nat64_address'],
    ['2002:7f00:1::', '6to4_address'],
    ['2001:0:4136:e378::1', 'teredo_address'],
    // IPv4-mapped and IPv4-compatible forms are judged as the IPv4 address they carry.
    ['::ffff:127.0.0.1', 'loopback_address'],
    ['::ffff:7f00:1', 'loopback_address'],
    ['::ffff:10.1.2.3', 'private_address'],
    ['::ffff:192.168.0.1', 'private_address'],
    ['::127.0.0.1', 'loopback_address'],
    ['::10.0.0.1', 'private_address'],
    ['::8.8.8.8', 'reserved_address'],
    ['::ffff:0:7f00:1', 'reserved_address'],
    // The host's own addresses, whatever their range.
    ['203.0.114.7', 'host_address'],
    ['::ffff:203.0.114.7', 'host_address'],
    ['2a00:1450::7', 'host_address'],
    // Public addresses pass.
    ['8.8.8.8', null],
    ['1.1.1.1', null],
    ['172.32.0.1', null],
    ['100.128.0.1', null],
    ['::ffff:8.8.8.8', null],
    ['2606:4700:4700::1111', null],
    // Not an address at all.
    ['example.com', 'reserved_address'],
  ];
  for (const [address, reason] of table) {
    it(`${address} -> ${String(reason)}`, () => assert.equal(classify(address), reason));
  }

  it('reads the host addresses on every call', () => {
    const own: string[] = [];
    const live = createAddressClassifier(() => own);
    assert.equal(live(`8.8.4.4`), null);
    own.push('8.8.4.4');
    assert.equal(live('8.8.4.4'), 'host_address');
  });

  it('uses only reasons the proxy documents', () => {
    for (const [, reason] of table) if (reason !== null) assert.ok((DENY_REASONS as readonly string[]).includes(reason), reason);
    for (const reason of ABSOLUTE_ADDRESS_REASONS) assert.ok((DENY_REASONS as readonly string[]).includes(reason), reason);
  });
});
