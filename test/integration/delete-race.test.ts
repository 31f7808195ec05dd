/**
 * Requests racing a DELETE of the same sandbox, against a real server (the app in front of the real
 * service, on the isolated test configuration): every one is answered with its normal success or a
 * 4xx (409 sandbox_not_running, 404), never a 5xx. Before the fix, list, files and exec racing a
 * DELETE answered 500 in about a third of tries.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { realServerSkipReason, startRealServer, type RealServer } from '../../sdk/testing/server.ts';

const skip = await realServerSkipReason();

/** How many create → race → delete rounds: enough to land requests in every phase of the teardown. */
const ROUNDS = 25;
const BIG = Buffer.alloc(4 * 1024 * 1024, 'x');

interface Answer {
  what: string;
  status: number;
  code?: string;
}

describe('requests racing DELETE (real server)', { skip }, () => {
  let server: RealServer;
  before(async () => {
    server = await startRealServer();
  });
  after(async () => {
    await server?.close();
  });

  const call = async (what: string, path: string, init: RequestInit = {}): Promise<Answer> => {
    const res = await fetch(`${server.url}${path}`, init);
    const text = await res.text();
    let code: string | undefined;
    try {
      code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
    } catch {
      // Raw bytes (file read) or NDJSON (exec): no envelope.
    }
    return { what, status: res.status, ...(code === undefined ? {} : { code }) };
  };

  for (const runtime of ['namespace', 'gvisor'] as const) {
    it(`${runtime}: list, get, files, exec, network and timeout racing DELETE answer success or 4xx, never 5xx (${ROUNDS} rounds)`, async (t) => {
      const health = (await (await fetch(`${server.url}/health`)).json()) as { runtimes_available: string[] };
      if (!health.runtimes_available.includes(runtime)) {
        t.skip(`${runtime} is not available on this host`);
        return;
      }
      const seen = new Map<string, number>();
      const failures: Answer[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const created = await fetch(`${server.url}/api/v1/sandboxes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ runtime }) });
        assert.equal(created.status, 201, await created.clone().text());
        const { sandbox_id: id } = (await created.json()) as { sandbox_id: string };
        const base = `/api/v1/sandboxes/${id}`;
        const json = (method: string, body: unknown): RequestInit => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        // A file big enough that reading and writing it is still under way when the teardown starts.
        const wrote = await call('seed', `${base}/files?path=/tmp/big`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: BIG });
        assert.equal(wrote.status, 200, JSON.stringify(wrote));
        // Staggered around the teardown: some start before it (and are still running when it begins), some during, some after.
        const racers = [0, 2, 5, 10, 20].flatMap((delay) => [
          () => call('list', '/api/v1/sandboxes'),
          () => call('status', '/api/v1/sandbox/status'),
          () => call('get', base),
          () => call('network', `${base}/network`),
          () => call('read', `${base}/files?path=/tmp/big`),
          () => call('write', `${base}/files?path=/tmp/x`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: BIG }),
          () => call('ls', `${base}/files/list?path=/tmp`),
          () => call('exec', `${base}/exec?stream=false`, json('POST', { command: ['true'] })),
          () => call('exec-stream', `${base}/exec`, json('POST', { command: ['true'] })),
          () => call('timeout', `${base}/timeout`, json('POST', { ttl_seconds: 60 })),
        ].map((f) => new Promise<Answer>((resolve) => setTimeout(() => resolve(f()), delay))));
        const deleteAfter = (round % 6) * 2;
        const deleted = new Promise<Answer>((resolve) => setTimeout(() => resolve(call('delete', base, { method: 'DELETE' })), deleteAfter));
        const answers = await Promise.all([deleted, ...racers]);
        for (const a of answers) {
          const key = `${a.what} ${a.status}${a.code === undefined ? '' : ` ${a.code}`}`;
          seen.set(key, (seen.get(key) ?? 0) + 1);
          if (a.status >= 500) failures.push(a);
          // A sandbox that is ending is "not running", never "not found" while it is still listed.
          if (a.status === 409) assert.equal(a.code, 'sandbox_not_running', JSON.stringify(a));
        }
      }
      const summary = [...seen.entries()].sort().map(([k, n]) => `${k}: ${n}`).join(', ');
      t.diagnostic(summary);
      assert.deepEqual(failures, [], `5xx answers while racing DELETE: ${summary}`);
      // The race really happened: some operation was refused because the sandbox was ending.
      assert.ok([...seen.keys()].some((k) => k.includes('409 sandbox_not_running')), `no request landed during the teardown: ${summary}`);
    });
  }
});
