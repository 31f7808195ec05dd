/**
 * What HTTPS interception for a brokered secret's bound host costs (no sandbox: the egress proxy on
 * loopback with a local HTTPS upstream, the way its tests run it): the broker CA made at sandbox
 * start, a leaf minted on a host's first tunnel, and one GET over a fresh CONNECT tunnel, blind
 * (TLS end to end) against intercepted (TLS terminated with the minted leaf, the key swapped in,
 * re-originated with verification), timed alternately.
 */
import https from 'node:https';
import tls from 'node:tls';
import { createBrokerCa, type BrokerCa } from '../src/network/proxy/broker-ca.ts';
import { openConnect, startHttpsServer, startTestProxy } from '../src/network/proxy/test-fixtures.ts';
import type { BrokeredCredential } from '../src/network/proxy/types.ts';
import { summarize, timePaired, timeRuns, type Summary } from './stats.ts';

export interface BrokeredHttpsBench {
  caCreateMs: Summary;
  leafMintMs: Summary;
  blindGetMs: Summary;
  interceptedGetMs: Summary;
}

const PLACEHOLDER = 'airlock-brokered-00112233445566778899aabbccddeeff';

async function get(proxyPort: number, host: string, port: number, ca: string): Promise<void> {
  const { socket } = await openConnect(proxyPort, `${host}:${port}`);
  await new Promise<void>((resolve, reject) => {
    const secure = tls.connect({ socket, servername: host, ca });
    const req = https.request({ host, port, path: '/v1', headers: { host: `${host}:${port}`, authorization: `Bearer ${PLACEHOLDER}` }, createConnection: () => secure }, (res) => {
      res.resume();
      res.on('end', () => {
        secure.destroy();
        resolve();
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Runs each measurement `n` times. */
export async function benchBrokeredHttps(n: number): Promise<BrokeredHttpsBench> {
  const caCreate = await timeRuns(n, 2, async () => void (await createBrokerCa('bench')));
  const minting: BrokerCa = await createBrokerCa('bench');
  let i = 0;
  const leafMint = await timeRuns(n, 2, async () => void (await minting.leafFor(`host-${(i += 1)}.example`)));
  const upstreamCa = await createBrokerCa('bench-upstream');
  const defaults = tls.getCACertificates('default');
  tls.setDefaultCACertificates([...defaults, upstreamCa.certificatePem]);
  const leaf = await upstreamCa.leafFor('api.bench');
  const other = await upstreamCa.leafFor('other.bench');
  // One upstream for both names: SNI picks the leaf.
  const credentials = { ...leaf, SNICallback: (name: string, cb: (e: Error | null, c: tls.SecureContext) => void) => cb(null, tls.createSecureContext(name === 'other.bench' ? other : leaf)) };
  const upstream = await startHttpsServer(credentials, (_req, res) => res.end('ok'));
  const brokerCa = await createBrokerCa('bench-sandbox');
  const credential: BrokeredCredential = { name: 'bench_key', placeholder: PLACEHOLDER, hosts: ['api.bench'], header: 'Authorization', format: 'Bearer {value}', value: () => Buffer.from('sk-bench-0123456789') };
  const proxy = await startTestProxy([`api.bench:${upstream.port}`, `other.bench:${upstream.port}`], { brokered: [credential], brokerCa, resolve: async () => [{ address: '127.0.0.1', family: 4 }] }, true);
  try {
    const [blind, intercepted] = await timePaired(n, 5, () => get(proxy.port, 'other.bench', upstream.port, upstreamCa.certificatePem), () => get(proxy.port, 'api.bench', upstream.port, brokerCa.certificatePem));
    return { caCreateMs: summarize(caCreate), leafMintMs: summarize(leafMint), blindGetMs: summarize(blind), interceptedGetMs: summarize(intercepted) };
  } finally {
    await proxy.close();
    await upstream.close();
    tls.setDefaultCACertificates(defaults);
  }
}

/** The report lines. */
export function brokeredHttpsLines(r: BrokeredHttpsBench): string[] {
  const f = (s: Summary) => `${s.p50.toFixed(2)} / ${s.p95.toFixed(2)} ms (n ${s.n})`;
  return [
    'HTTPS interception for brokered secrets (egress proxy on loopback, local HTTPS upstream), p50 / p95:',
    `- broker CA made at sandbox start (ECDSA P-256): ${f(r.caCreateMs)}`,
    `- leaf minted on a host's first tunnel: ${f(r.leafMintMs)}`,
    `- GET over a fresh CONNECT tunnel, blind (unbound host): ${f(r.blindGetMs)}`,
    `- GET over a fresh CONNECT tunnel, intercepted (bound host, key swapped in, re-originated): ${f(r.interceptedGetMs)} = ${(r.interceptedGetMs.p50 / r.blindGetMs.p50).toFixed(2)}× blind`,
  ];
}
