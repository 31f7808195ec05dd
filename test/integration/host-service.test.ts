/**
 * A service on the host's loopback, reached from a `restricted` sandbox by an ordinary client
 * (Python's urllib, which honours the proxy variables and NO_PROXY) as `host.airlock.internal:PORT`,
 * on every runtime; the same service as `127.0.0.1:PORT` is the sandbox's own loopback, and the
 * name without its allowlist entry is refused by the proxy.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe } from 'node:test';
import type { NetworkRequest } from '../../src/network/policy.ts';
import { RUNTIMES, runInSandbox } from '../security/lib/runtime.ts';
import { runtimeCase, useSuite } from '../security/lib/suite.ts';

const suite = useSuite();
let server: Server;
let port = 0;

before(async () => {
  server = createServer((req, res) => res.end(`host service saw ${req.url ?? ''}`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Prints what urllib got for each URL: the body, or the error class and reason. */
const FETCH = `
import sys, urllib.request, urllib.error
for url in sys.argv[1:]:
    try:
        print('OK', urllib.request.urlopen(url, timeout=10).read().decode())
    except urllib.error.HTTPError as e:
        print('HTTP', e.code, e.headers.get('X-Airlock-Deny-Reason'))
    except Exception as e:
        print('ERR', type(e).__name__)
`;

const restricted = (...hosts: string[]): NetworkRequest => ({ mode: 'restricted', allowedHosts: hosts, services: [] });

for (const runtime of RUNTIMES) {
  describe(`${runtime}: a host service from a restricted sandbox`, () => {
    runtimeCase(suite, runtime, 'host.airlock.internal:PORT reaches it when allowlisted; 127.0.0.1 is the sandbox itself', async (_t, ready) => {
      const urls = [`http://host.airlock.internal:${port}/v1/models`, `http://127.0.0.1:${port}/v1/models`];
      const allowed = await runInSandbox(ready, suite.config, ['python3', '-c', FETCH, ...urls], { network: restricted(`host.airlock.internal:${port}`, `127.0.0.1:${port}`) });
      assert.equal(allowed.exit_code, 0, JSON.stringify(allowed));
      const [byName, byAddress] = allowed.output.split('\n');
      assert.equal(byName, 'OK host service saw /v1/models');
      // NO_PROXY keeps 127.0.0.1 inside the sandbox, whatever the allowlist says: nothing listens there.
      assert.equal(byAddress, 'ERR URLError');
      const refused = await runInSandbox(ready, suite.config, ['python3', '-c', FETCH, urls[0] ?? ''], { network: restricted('example.com') });
      assert.equal(refused.output, 'HTTP 403 not_allowlisted');
    }, { timeout: 120_000 });
  });
}
