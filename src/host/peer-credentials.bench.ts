/**
 * Cost of reading peer credentials per unix-socket connection: a connect + one-byte round trip on
 * a plain server against the same on a server with a PeerCredentialsReader attached (alternating
 * rounds in one process), and the time from accept to the credentials being known.
 *   node src/host/peer-credentials.bench.ts [connections-per-round] [rounds]
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { PeerCredentialsReader } from './peer-credentials.ts';

const perRound = Number(process.argv[2] ?? 200);
const rounds = Number(process.argv[3] ?? 5);
const work = mkdtempSync('/tmp/airlock-peercred-bench-');
const reader = await PeerCredentialsReader.create({ stateDir: `${work}/state` });
const lookupMs: number[] = [];

async function serve(path: string, withReader: boolean): Promise<Server> {
  const server = createServer((socket) => {
    socket.on('data', (d) => {
      if (!withReader) return void socket.write(d);
      const accepted = performance.now();
      // Answer only once the credentials are known, as the API's authentication does.
      void reader.lookup(socket).then(() => {
        lookupMs.push(performance.now() - accepted);
        socket.write(d);
      });
    });
  });
  if (withReader) reader.attach(server);
  server.listen(path);
  await once(server, 'listening');
  return server;
}

async function round(path: string, samples: number[]): Promise<void> {
  for (let i = 0; i < perRound; i++) {
    const t = performance.now();
    const client = connect(path);
    await once(client, 'connect');
    client.write('x');
    await once(client, 'data');
    samples.push(performance.now() - t);
    client.destroy();
  }
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
const plain = await serve(`${work}/plain.sock`, false);
const withPeer = await serve(`${work}/peer.sock`, true);
const base: number[] = [];
const peer: number[] = [];
await round(`${work}/plain.sock`, []);
await round(`${work}/peer.sock`, []);
lookupMs.length = 0;
for (let r = 0; r < rounds; r++) {
  await round(`${work}/plain.sock`, base);
  await round(`${work}/peer.sock`, peer);
}
plain.close();
withPeer.close();
rmSync(work, { recursive: true, force: true });
const row = (name: string, xs: number[]) => `${name.padEnd(34)} p50 ${pct(xs, 50).toFixed(2)} ms  p99 ${pct(xs, 99).toFixed(2)} ms  (n=${xs.length})`;
console.log(row('connect + round trip, plain', base));
console.log(row('connect + round trip, peer creds', peer));
console.log(row('first byte -> credentials known', lookupMs));
console.log(`added per connection at p50: ${(pct(peer, 50) - pct(base, 50)).toFixed(2)} ms`);
