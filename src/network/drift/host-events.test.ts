import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIpEvent, parseNftEvent } from './host-events.ts';
import { routeEvent, widen } from './routing.ts';

// Lines as `nft -j monitor` and `ip -o monitor label all-nsid link address route` print them
// (captured on a host with iproute2 6.1 and nftables 1.0.6).
const NFT_ADD_RULE = '{"add": {"rule": {"family": "inet", "table": "airlock-n5", "chain": "input", "handle": 7, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 9}}, {"accept": null}]}}}';
const NFT_DELETE_TABLE = '{"delete": {"table": {"family": "inet", "name": "airlock-n5", "handle": 29}}}';
const NFT_OTHER_FAMILY = '{"add": {"chain": {"family": "ip", "table": "filter", "name": "c", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}}';
const IP_MOVED_OUT = '[nsid current][LINK]Deleted 35: zzlp@zzl: <BROADCAST,MULTICAST,M-DOWN> mtu 1500 qdisc noop state DOWN group default \\    link/ether ee:5b:6f:4f:88:c0 brd ff:ff:ff:ff:ff:ff new-netnsid 0 new-ifindex 35';
const IP_LINK_DOWN = '[nsid current][LINK]37: al-n5@if2: <BROADCAST,MULTICAST> mtu 1500 qdisc noqueue state DOWN group default \\    link/ether 6e:01:5b:e1:35:75 brd ff:ff:ff:ff:ff:ff link-netnsid 0';
const IP_ADDR = '[nsid current][ADDR]36: al-n5    inet 10.250.0.1/30 scope global al-n5\\       valid_lft forever preferred_lft forever';
const IP_ROUTE = '[nsid current][ROUTE]10.251.0.0/24 dev al-n5 scope link ';
// Captured with iproute2 6.x (`... route nsid`): an id assigned, one deleted, and a link leaving a slot's namespace.
const IP_NSID_ADD = '[nsid current][NSID]nsid 14 (iproute2 netns name: dwtest1)';
const IP_NSID_DEL = '[nsid current][NSID]Deleted nsid 14 (iproute2 netns name: dwtest1)';
const IP_MOVED_FROM_NS = '[nsid 3][LINK]Deleted 2: eth0@if9: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \\    link/ether ee:5b:6f:4f:88:c0 brd ff:ff:ff:ff:ff:ff new-netnsid 1 new-ifindex 40';
const IP_OTHER_NS = '[nsid 0][LINK]35: zzlp@if36: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \\    link/ether ee:5b:6f:4f:88:c0 brd ff:ff:ff:ff:ff:ff link-netnsid 0';

test('nft monitor lines name the table and say what happened', () => {
  assert.deepEqual(parseNftEvent(NFT_ADD_RULE), { source: 'nft', family: 'inet', table: 'airlock-n5', text: 'added rule inet airlock-n5 input #7: tcp dport 9 accept' });
  assert.deepEqual(parseNftEvent(NFT_DELETE_TABLE), { source: 'nft', family: 'inet', table: 'airlock-n5', text: 'deleted table inet airlock-n5' });
  assert.equal(parseNftEvent('not json'), undefined);
  assert.equal(parseNftEvent('{"metainfo": {}}'), undefined);
});

test('ip monitor lines name the device, the namespace and a link leaving the host', () => {
  assert.deepEqual(
    [IP_MOVED_OUT, IP_LINK_DOWN, IP_ADDR, IP_ROUTE, IP_OTHER_NS].map((l) => {
      const e = parseIpEvent(l);
      return e === undefined ? undefined : [e.kind, e.nsid, e.dev, e.movedOut, e.peer];
    }),
    [
      ['link', 'current', 'zzlp', true, 0],
      ['link', 'current', 'al-n5', false, undefined],
      ['address', 'current', 'al-n5', false, undefined],
      ['route', 'current', 'al-n5', false, undefined],
      ['link', 0, 'zzlp', false, undefined],
    ],
  );
  assert.deepEqual(
    [IP_NSID_ADD, IP_NSID_DEL].map((l) => {
      const e = parseIpEvent(l);
      return e === undefined ? undefined : [e.kind, e.nsid, e.dev, e.peer];
    }),
    [
      ['nsid', 'current', undefined, 14],
      ['nsid', 'current', undefined, 14],
    ],
  );
  assert.equal(parseIpEvent('Deleted 35: zzlp'), undefined, 'a line without the label and nsid prefixes is not guessed at');
});

test('events are routed to the sandboxes whose facets they could concern', () => {
  const route = (line: string) => routeEvent((line.startsWith('{') ? parseNftEvent(line) : parseIpEvent(line))!);
  // A slot table's event is itself the change (kept even if reverted before any comparison).
  assert.deepEqual(route(NFT_ADD_RULE), [{ to: 'table', name: 'airlock-n5', scope: 'all', evidence: 'firewall rules: added rule inet airlock-n5 input #7: tcp dport 9 accept (seen by nft monitor)' }]);
  assert.deepEqual(route(NFT_OTHER_FAMILY), [], 'no slot table lives outside the inet family');
  // Kernel link/route messages only trigger a comparison of their host link's sandbox.
  assert.deepEqual(route(IP_LINK_DOWN), [{ to: 'host-link', name: 'al-n5', scope: 'all' }]);
  assert.deepEqual(route(IP_ROUTE), [{ to: 'host-link', name: 'al-n5', scope: 'all' }]);
  // A link that left the host: the namespace it went to (the host's id), sandbox side.
  assert.deepEqual(route(IP_MOVED_OUT), [{ to: 'namespace', nsid: 0, scope: 'sandbox' }, { to: 'host-link', name: 'zzlp', scope: 'all' }]);
  assert.deepEqual(route(IP_OTHER_NS), [{ to: 'namespace', nsid: 0, scope: 'sandbox' }]);
  // A link leaving another namespace names its destination in that namespace's ids: everyone.
  assert.deepEqual(route(IP_MOVED_FROM_NS), [{ to: 'namespace', nsid: 3, scope: 'sandbox' }, { to: 'every', scope: 'sandbox' }]);
  // Id changes compare nothing (the watch resolves ids again).
  assert.deepEqual([route(IP_NSID_ADD), route(IP_NSID_DEL)], [[], []]);
});

test('scopes merge to what both read', () => {
  assert.deepEqual([widen(undefined, 'host'), widen('sandbox', 'sandbox'), widen('sandbox', 'host'), widen('all', 'sandbox')], ['host', 'sandbox', 'all', 'all']);
});
