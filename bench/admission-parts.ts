/**
 * The pieces of admission, each timed alone over many iterations: RFC 9421 signing (client side),
 * signature verification as the controller runs it (key lookup in the SQLite store, Ed25519, the
 * content digest, the nonce insert), the two store calls inside it, and one Cedar evaluation of an
 * execute with a mount and a restricted network, both uncached (each call distinct) and cached
 * (the same call again, answered from the engine's cache).
 */
import type { KeyObject } from 'node:crypto';
import type { PolicyEngine } from '../src/policy/engine.ts';
import type { PolicyRequest, SandboxSpec } from '../src/policy/request.ts';
import { signRequest } from '../src/signing/sign.ts';
import { RequestVerifier } from '../src/signing/verify.ts';
import type { SignableRequest } from '../src/signing/message.ts';
import type { ActiveKey, ControlStore } from '../src/store/store.ts';
import { summarize, type Summary } from './stats.ts';

/** Each piece's latency, ms. */
export interface AdmissionParts {
  sign: Summary;
  verify: Summary;
  lookupActiveKey: Summary;
  nonceInsert: Summary;
  /** Each call names a sandbox of its own, so every one is a cache miss: Cedar's own cost. */
  cedarEvaluate: Summary & { decision: string };
  /** The same call over and over: after the first, an answer from the engine's cache. */
  cedarEvaluateCached: Summary & { decision: string };
}

/** A request signed as the SDK signs it (fresh nonce; a JSON body with its digest). */
export function signedRequest(method: string, url: string, body: string | undefined, privateKey: KeyObject, keyid: string): SignableRequest {
  const request: SignableRequest = { method, targetUri: url, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body };
  const signature = signRequest({ request, privateKey, keyid });
  return { ...request, headers: { ...request.headers, ...signature } };
}

async function timeEach<T>(inputs: T[], fn: (input: T) => unknown): Promise<number[]> {
  const samples: number[] = [];
  for (const input of inputs) {
    const t0 = performance.now();
    await fn(input);
    samples.push(performance.now() - t0);
  }
  return samples;
}

/** An execute with a read-only host grant under a configured root and a restricted network: allowed for its owner. */
export function executeWithMounts(role: 'agent' | 'operator' = 'agent', sandboxId = 'sb-1'): PolicyRequest {
  const spec: SandboxSpec = {
    runtime: 'namespace',
    image: 'default',
    network: { mode: 'restricted', allowedHosts: ['pypi.org', 'files.pythonhosted.org'] },
    mounts: [{ hostPath: '/srv/work/project', sandboxPath: '/work', writable: false }],
    limits: { memoryMb: 512, cpuCores: 0.5, pids: 256, timeoutSeconds: 300, scratchMb: 64, outputBytes: 10_485_760, openFiles: 1024 },
  };
  return {
    principal: { role, id: 'agent-1', groups: ['team-a'] },
    action: 'execute',
    sandbox: { id: sandboxId, owner: 'agent-1', spec },
    settings: { defaultImage: 'default', hostRoots: ['/srv/work'] },
  };
}

/** Times each piece `n` times after a warm-up; `store` holds `keyid`'s principal. */
export async function benchAdmissionParts(options: { store: ControlStore; engine: PolicyEngine; privateKey: KeyObject; keyid: string; url: string; body: string; n: number }): Promise<AdmissionParts> {
  const { store, engine, privateKey, keyid, url, body, n } = options;
  const warm = 200;
  const count = Array.from({ length: warm + n }, (_, i) => i);
  const sign = (await timeEach(count, () => signedRequest('POST', url, body, privateKey, keyid))).slice(warm);

  // The verifier exactly as the controller's Authenticator builds it over the store.
  const verifier = new RequestVerifier<ActiveKey>({ lookupKey: (k) => store.lookupActiveKey(k), replayCache: store.replayCache, maxSkewSeconds: 60 });
  // Signed beforehand (each with its own nonce), so only verification is timed.
  const requests = count.map(() => signedRequest('POST', url, body, privateKey, keyid));
  const verify = (
    await timeEach(requests, async (request) => {
      const result = await verifier.verify(request);
      if (!result.ok) throw new Error(`verification refused: ${result.code}`);
    })
  ).slice(warm);

  const lookup = (await timeEach(count, () => store.lookupActiveKey(keyid))).slice(warm);
  const now = Date.now();
  const nonces = count.map((i) => JSON.stringify([keyid, `bench-nonce-${now}-${i}`]));
  const insert = (
    await timeEach(nonces, async (nonce) => {
      if ((await store.replayCache.checkAndRemember(nonce, Date.now() + 60_001, Date.now())) !== 'fresh') throw new Error('nonce not fresh');
    })
  ).slice(warm);

  // Uncached: a distinct sandbox id per call makes a distinct cache key (the id is the Cedar
  // resource), so every timed call runs Cedar; the decision is the same for each.
  const distinct = count.map((i) => executeWithMounts('agent', `sb-bench-${now}-${i}`));
  const uncached = (await timeEach(distinct, (r) => engine.evaluate(r))).slice(warm);
  // Cached: one call repeated; the warm-up's first evaluation fills the cache, the rest hit it.
  const request = executeWithMounts();
  const cached = (await timeEach(count, () => engine.evaluate(request))).slice(warm);
  return {
    sign: summarize(sign),
    verify: summarize(verify),
    lookupActiveKey: summarize(lookup),
    nonceInsert: summarize(insert),
    cedarEvaluate: { ...summarize(uncached), decision: engine.evaluate(distinct[0] as PolicyRequest).decision },
    cedarEvaluateCached: { ...summarize(cached), decision: engine.evaluate(request).decision },
  };
}
