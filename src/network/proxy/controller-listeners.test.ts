import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLocalAddressCheck } from './addresses.ts';
import { findControllerListener, type ListenerEndpoint } from './controller-listeners.ts';

const isLocal = createLocalAddressCheck(() => ['192.168.1.20', '10.213.0.1', '2001:db8::20', 'fe80::1%eth0']);
const what = (listeners: ListenerEndpoint[], address: string, port: number) => findControllerListener(listeners, address, port, isLocal)?.what;

describe('findControllerListener', () => {
  const wildcard: ListenerEndpoint[] = [{ address: '0.0.0.0', port: 8002, what: 'API' }];
  it('a wildcard listener is reached through every local address, in every spelling', () => {
    for (const address of ['127.0.0.1', '127.0.0.2', '127.255.0.9', '0.0.0.0', '192.168.1.20', '10.213.0.1', '::1', '::', '::ffff:127.0.0.1', '::ffff:7f00:2', '::127.0.0.1', '2001:db8::20', 'fe80::1', '[::1]']) {
      assert.equal(what(wildcard, address, 8002), 'API', address);
    }
  });

  it('a wildcard listener is not reached through foreign addresses or on other ports', () => {
    for (const address of ['1.1.1.1', '192.168.1.21', '10.0.0.1', '2001:db8::21']) assert.equal(what(wildcard, address, 8002), undefined, address);
    assert.equal(what(wildcard, '127.0.0.1', 8003), undefined);
  });

  it('an IPv6 wildcard (dual stack) is reached through IPv4 local addresses too', () => {
    assert.equal(what([{ address: '::', port: 8002, what: 'API' }], '192.168.1.20', 8002), 'API');
  });

  it('a listener on one address is reached only through that address', () => {
    const specific: ListenerEndpoint[] = [{ address: '127.0.0.1', port: 8002, what: 'API' }];
    for (const address of ['127.0.0.1', '::ffff:127.0.0.1', '::ffff:7f00:1']) assert.equal(what(specific, address, 8002), 'API', address);
    // Linux delivers 127.0.0.2 to a socket bound to 127.0.0.2 or a wildcard, never to one bound to 127.0.0.1.
    for (const address of ['127.0.0.2', '192.168.1.20', '::1']) assert.equal(what(specific, address, 8002), undefined, address);
  });

  it('a prefix listener (every slot gateway\'s egress proxy) is reached through any address of the prefix', () => {
    const proxies: ListenerEndpoint[] = [{ address: '10.213.0.0', prefix: 16, port: 3128, what: 'egress proxy' }];
    for (const address of ['10.213.0.1', '10.213.200.5', '::ffff:10.213.0.9']) assert.equal(what(proxies, address, 3128), 'egress proxy', address);
    for (const address of ['10.214.0.1', '127.0.0.1', '::1']) assert.equal(what(proxies, address, 3128), undefined, address);
  });

  it('something that is not an IP matches every listener on the port (fail closed)', () => {
    assert.equal(what([{ address: '127.0.0.1', port: 8002, what: 'API' }], 'not-an-ip', 8002), 'API');
  });
});

describe('createLocalAddressCheck', () => {
  it('loopback, unspecified and interface addresses are local; the rest is not', () => {
    for (const a of ['127.0.0.1', '127.9.9.9', '0.0.0.0', '::', '::1', '::ffff:127.0.0.1', '192.168.1.20', '2001:db8::20']) assert.ok(isLocal(a), a);
    for (const a of ['1.1.1.1', '192.168.1.2', '2001:db8::1', '169.254.169.254']) assert.ok(!isLocal(a), a);
  });
});
