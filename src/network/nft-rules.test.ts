import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderRules } from './nft-rules.ts';
import { describeSlot, inSubnet, slotCount } from './slots.ts';

const slot = describeSlot('10.213.0.0/16', 5);

test('slot 5 of 10.213.0.0/16 is 10.213.0.20/30 with derived names', () => {
  assert.equal(slot.hostAddress, '10.213.0.21');
  assert.equal(slot.sandboxAddress, '10.213.0.22');
  assert.equal(slot.netns, 'airlock-n5');
  assert.equal(slot.hostLink, 'al-n5');
  assert.ok(describeSlot('10.213.0.0/16', 16383).hostLink.length <= 15);
  assert.equal(describeSlot('10.213.0.0/16', 16383).sandboxAddress, '10.213.255.254');
  assert.equal(slotCount('10.213.0.0/16'), 16384);
  assert.ok(inSubnet('10.213.0.0/16', '10.213.255.255') && !inSubnet('10.213.0.0/16', '10.214.0.0'));
});

test('restricted rules accept only the proxy port from the sandbox address and drop all forwarding', () => {
  const text = renderRules({ slot, mode: 'restricted', proxyPort: 3128 });
  assert.match(text, /iifname "al-n5" ip saddr 10\.213\.0\.22 ip daddr 10\.213\.0\.21 tcp dport 3128 accept\n\s+iifname "al-n5" drop/);
  assert.match(text, /chain forward \{[^}]*iifname "al-n5" drop\n\s+oifname "al-n5" drop/);
  assert.doesNotMatch(text, /masquerade/);
});

test('full rules NAT out but drop the host, spoofed sources, IPv6 and private ranges first', () => {
  const text = renderRules({ slot, mode: 'full', proxyPort: 3128 });
  const forward = text.slice(text.indexOf('chain forward'), text.indexOf('chain postrouting'));
  const order = ['ip saddr != 10.213.0.22 drop', 'nfproto != ipv4 drop', '169.254.0.0/16', 'iifname "al-n5" accept'].map((s) => forward.indexOf(s));
  assert.ok(order.every((i) => i > 0), forward);
  assert.deepEqual([...order].sort((a, b) => a - b), order);
  assert.match(text, /chain input \{[^}]*iifname "al-n5" drop\n\s+\}/);
  assert.match(text, /ip saddr 10\.213\.0\.22 oifname != "al-n5" masquerade/);
  // The same places the egress proxy refuses, metadata addresses outside link-local included.
  for (const cidr of ['10.0.0.0/8', '100.64.0.0/10', '168.63.129.16/32', '100.100.100.200/32', '203.0.113.0/24']) assert.ok(forward.includes(cidr), cidr);
});
