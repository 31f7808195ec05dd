/**
 * T27 (first half), on every runtime, through the same wiring as `airlock serve`: a real control
 * plane (SandboxService + startServer, API bound to 0.0.0.0 so every host address reaches it) and
 * real sandboxes. A `restricted` sandbox that allowlists the API (by loopback literal, by the
 * host's address, by its own gateway, by `localhost`) and its own proxy port is refused with
 * `controller_listener`, for plain HTTP and CONNECT, while a bystander server allowlisted the same
 * way is reached; the API sees no request. A `full` sandbox reaches none of those either (its
 * host-side rules drop everything addressed to the host). All traffic stays on this machine.
 */
import { before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ControllerListeners } from '../../src/network/listeners.ts';
import { SandboxService } from '../../src/sandbox/service.ts';
import { policyDirOf, readBundleHash } from '../../src/policy/bundle-files.ts';
import type { ExecSession } from '../../src/sandbox/service-types.ts';
import { startServer, type RunningServer } from '../../src/cli/serve.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { AirlockMetrics } from '../../src/observability/metrics.ts';
import { RUNTIMES } from './lib/runtime.ts';
import { runtimeCase, useSuite } from './lib/suite.ts';
import { selfSignedCert } from './lib/self-signed-cert.ts';
import { createLoopbackAccess } from '../../src/admission/loopback-access.ts';
import { hostAddress, httpServer, probeArgv, probeResults, type RecordingServer } from './network/fixtures.ts';

const suite = useSuite();

let service: SandboxService;
let server: RunningServer;
let bystander: RecordingServer;
let apiPort: number;
/** Requests the API received from anywhere while the cases ran: must stay empty. */
const apiRequests: string[] = [];

let tls: ReturnType<typeof selfSignedCert> | undefined;

before(async () => {
  // Bound to every address, as an exposed deployment is: that needs TLS (the proxy refuses the API before any byte, TLS or not).
  tls = selfSignedCert();
  const config = {
    ...suite.config,
    service: { ...suite.config.service, pools: [], tls: { certFile: tls.certFile, keyFile: tls.keyFile } },
    network: { ...suite.config.network, poolSize: 0 },
  };
  const listeners = new ControllerListeners(config.network);
  service = new SandboxService({ config, policyBundleHash: await readBundleHash(policyDirOf(config.policy)), listeners });
  await service.start();
  server = await startServer({
    access: await createLoopbackAccess({ config }),
    service, metrics: new AirlockMetrics(), logger: createLogger({ level: 'silent' }).logger, config, listeners, host: '0.0.0.0', port: 0,
  });
  apiPort = Number(new URL(server.address).port);
  server.app.server.on('request', (req: { url?: string }) => apiRequests.push(req.url ?? ''));
  bystander = await httpServer();
});

suite.closeFirst(async () => {
  await server?.close(); // Also shuts the service down, ending every sandbox.
  await bystander?.close();
  tls?.remove();
});

async function output(session: ExecSession): Promise<string> {
  let out = '';
  session.onStdout((c) => (out += c.toString()));
  await session.result;
  return out;
}

/** Runs the network probe's checks inside a persistent sandbox; results by id. */
async function probe(id: string, checks: object[]): Promise<Map<string, Record<string, unknown>>> {
  const session = await service.exec(id, { argv: probeArgv(checks), env: {}, stdin: false, timeoutMs: 60_000 });
  return probeResults(await output(session));
}

function refusedAsController(r: Map<string, Record<string, unknown>>, id: string): void {
  const got = r.get(id);
  assert.deepEqual([got?.['status'], got?.['reason']], [403, 'controller_listener'], `${id}: ${JSON.stringify(got)}`);
}

/** Python: the sandbox's default gateway (its slot's host address), then TCP connects to each port given. */
const FULL_PROBE = `
import json, socket, struct, sys
gateway = None
with open('/proc/net/route') as f:
    for line in f.readlines()[1:]:
        parts = line.split()
        if parts[1] == '00000000':
            gateway = socket.inet_ntoa(struct.pack('<L', int(parts[2], 16)))
print(json.dumps({'id': 'gateway', 'address': gateway}))
for target in json.loads(sys.argv[1]):
    host = gateway if target['host'] == 'GATEWAY' else target['host']
    s = socket.socket(); s.settimeout(1)
    try:
        s.connect((host, target['port'])); result = {'connected': True}
    except OSError as e:
        result = {'connected': False, 'error': type(e).__name__}
    finally:
        s.close()
    print(json.dumps({'id': target['id'], 'host': host, **result}))
`;

for (const runtime of RUNTIMES) {
  describe(`${runtime}: T27 the controller's own listeners`, () => {
    runtimeCase(suite, runtime, 'restricted: the API and the proxies are refused whatever the allowlist says; a bystander is reached', async () => {
      const A = apiPort;
      const B = bystander.port;
      const host = hostAddress();
      const info = await service.create({
        runtime, limits: {}, metadata: {}, env: {}, mounts: [],
        network: { mode: 'restricted', allowedHosts: [`127.0.0.1:${A}`, `127.0.0.1:${B}`], services: [] },
      });
      const id = info.sandbox_id;
      // The sandbox's gateway (its proxy's address) is known only once it runs: allowlist it then.
      const env = await probe(id, [{ op: 'env' }]);
      const [gateway = '', proxyPort = ''] = String(env.get('env')?.['proxy']).replace(/^http:\/\//, '').split(':');
      assert.match(gateway, /^\d+\.\d+\.\d+\.\d+$/, JSON.stringify(env.get('env')));
      const allowlist = [`127.0.0.1:${A}`, `${gateway}:${A}`, `${gateway}:${proxyPort}`, `localhost:${A}`, `127.0.0.1:${B}`, ...(host === undefined ? [] : [`${host}:${A}`])];
      await service.setAllowlist(id, allowlist);
      const decisionsBefore = service.network(id).decisions.length;
      const seenBefore = bystander.seen.length;
      const r = await probe(id, [
        { id: 'api-loopback', op: 'http', url: `http://127.0.0.1:${A}/api/v1/sandboxes`, host_header: `127.0.0.1:${A}` },
        { id: 'api-mapped', op: 'http', url: `http://[::ffff:127.0.0.1]:${A}/metrics`, host_header: `[::ffff:127.0.0.1]:${A}` },
        { id: 'api-gateway', op: 'http', url: `http://${gateway}:${A}/health`, host_header: `${gateway}:${A}` },
        { id: 'api-localhost', op: 'http', url: `http://localhost:${A}/metrics`, host_header: `localhost:${A}` },
        ...(host === undefined ? [] : [{ id: 'api-host', op: 'http', url: `http://${host}:${A}/metrics`, host_header: `${host}:${A}` }]),
        { id: 'own-proxy', op: 'http', url: `http://${gateway}:${proxyPort}/`, host_header: `${gateway}:${proxyPort}` },
        { id: 'api-connect', op: 'connect_tls', target: `127.0.0.1:${A}`, sni: null },
        { id: 'bystander', op: 'http', url: `http://127.0.0.1:${B}/ok`, host_header: `127.0.0.1:${B}` },
      ]);
      for (const check of ['api-loopback', 'api-mapped', 'api-gateway', 'api-localhost', 'own-proxy', 'api-connect', ...(host === undefined ? [] : ['api-host'])]) {
        refusedAsController(r, check);
      }
      // Not vacuous: the allowlist works, and only the controller is refused.
      assert.deepEqual([r.get('bystander')?.['status'], r.get('bystander')?.['body']], [200, 'hello /ok'], JSON.stringify(r.get('bystander')));
      assert.deepEqual(bystander.seen.slice(seenBefore), ['/ok']);
      assert.deepEqual(apiRequests, [], 'a sandbox reached the API');
      const refusals = service.network(id).decisions.slice(decisionsBefore).filter((d) => d.reason === 'controller_listener');
      assert.equal(refusals.length, host === undefined ? 6 : 7, JSON.stringify(service.network(id).decisions.slice(decisionsBefore)));
      assert.ok(refusals.every((d) => !d.allowed));
      await service.kill(id);
    });

    runtimeCase(suite, runtime, 'full: no host address reaches the API or a proxy (the host-side rules drop it)', async () => {
      const host = hostAddress();
      const proxyPort = suite.config.network.proxyPort;
      const targets = [
        { id: 'api-gateway', host: 'GATEWAY', port: apiPort },
        { id: 'proxy-gateway', host: 'GATEWAY', port: proxyPort },
        { id: 'api-loopback', host: '127.0.0.1', port: apiPort },
        ...(host === undefined ? [] : [{ id: 'api-host', host, port: apiPort }]),
      ];
      const result = await service.execute({
        agentId: 't27', runtime, limits: { timeoutSeconds: 60 }, env: {}, mounts: [],
        command: ['python3', '-c', FULL_PROBE, JSON.stringify(targets)], network: { mode: 'full', allowedHosts: [], services: [] },
      });
      assert.equal(result.termination_reason, 'completed', `${result.termination_reason}: ${result.error}`);
      const r = probeResults(result.output);
      assert.match(String(r.get('gateway')?.['address']), /^\d+\.\d+\.\d+\.\d+$/, result.output);
      for (const target of targets) assert.equal(r.get(target.id)?.['connected'], false, `${target.id}: ${JSON.stringify(r.get(target.id))}`);
      assert.deepEqual(apiRequests, [], 'a sandbox reached the API');
    });
  });
}
