/**
 * What admission adds to a request over loopback HTTP: the same `POST /api/v1/sandbox/execute`
 * (`/bin/true`, namespace) to a controller that requires RFC 9421 signatures (keys and nonces in a
 * real SQLite store) and to one with the unsigned-loopback development switch, alternately. Cedar
 * runs in both (there is no controller without admission: buildApp requires it), so the difference
 * is authentication. The same pair on `GET /api/v1/sandboxes` shows it without a sandbox's noise.
 * Then each piece alone: signing, verification, the store calls, one Cedar evaluation.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AirlockConfig } from '../src/config/config.ts';
import { SandboxService } from '../src/sandbox/service.ts';
import { policyDirOf, readBundleHash } from '../src/policy/bundle-files.ts';
import { buildApp } from '../src/api/app.ts';
import { createAccess } from '../src/admission/access.ts';
import { createLoopbackAccess } from '../src/admission/loopback-access.ts';
import { generateEd25519KeyPair, keyId, publicKeyPem } from '../src/signing/keys.ts';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { summarize, type Summary } from './stats.ts';
import type { PairResult } from './namespace.ts';
import { benchAdmissionParts, signedRequest, type AdmissionParts } from './admission-parts.ts';

/** One signed-vs-unsigned pair and its per-pair differences. */
export interface AdmissionPair extends PairResult {
  /** signed − unsigned, sample by sample (the two requests of a pair run back to back). */
  difference: Summary;
}

export interface AdmissionBench {
  pairs: AdmissionPair[];
  parts: AdmissionParts;
}

const PRINCIPAL = { name: 'bench-operator', role: 'operator' as const };

/** Runs the pairs (`n` one-shots, 10 × `n` list calls) and the pieces (10 × `n` each, at least 2000). `npm run bench` passes n ≤ 100 to stay under a minute. */
export async function benchAdmission(config: AirlockConfig, n: number): Promise<AdmissionBench> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-bench-admission-'));
  const store = await SqliteStore.open({ path: join(dir, 'store', 'airlock.db') });
  const service = new SandboxService({ config: { ...config, service: { ...config.service, pools: [] } }, policyBundleHash: await readBundleHash(policyDirOf(config.policy)) });
  await service.start();
  const limits = { defaults: config.defaults, maxima: config.maxima };
  const keys = generateEd25519KeyPair();
  const keyid = keyId(keys.publicKey);
  await store.addPrincipal({ ...PRINCIPAL, groups: [], publicKeyPem: publicKeyPem(keys.publicKey) });
  // Both controllers have the store (so approvals are the same); only authentication differs.
  const signedAccess = await createAccess({ config: { ...config, auth: { ...config.auth, unsignedLoopback: false } }, store });
  const loopbackAccess = await createLoopbackAccess({ config, store, as: PRINCIPAL });
  const signedApp = buildApp({ service, access: signedAccess, limits });
  const loopbackApp = buildApp({ service, access: loopbackAccess, limits });
  try {
    const signedUrl = await signedApp.listen({ host: '127.0.0.1', port: 0 });
    const loopbackUrl = await loopbackApp.listen({ host: '127.0.0.1', port: 0 });
    const body = JSON.stringify({ agent_id: 'bench', command: ['/bin/true'] });

    const send = async (url: string, method: 'GET' | 'POST', withBody: boolean, sign: boolean) => {
      const request = sign ? signedRequest(method, url, withBody ? body : undefined, keys.privateKey, keyid) : undefined;
      const headers = { ...(withBody ? { 'content-type': 'application/json' } : {}), ...(request?.headers as Record<string, string> | undefined) };
      // Timed from here: signing is a client cost, reported on its own below.
      const t0 = performance.now();
      const res = await fetch(url, { method, headers, ...(withBody ? { body } : {}) });
      const text = await res.text();
      const ms = performance.now() - t0;
      if (!res.ok) throw new Error(`${method} ${url}: HTTP ${res.status} ${text.slice(0, 300)}`);
      return ms;
    };
    const pair = async (name: string, path: string, method: 'GET' | 'POST', withBody: boolean, count: number, warmup: number): Promise<AdmissionPair> => {
      const signed: number[] = [];
      const unsigned: number[] = [];
      // Which goes first alternates, so neither always follows the other's sandbox teardown.
      for (let i = 0; i < count + warmup; i++) {
        const signedFirst = i % 2 === 0;
        const a = signedFirst ? await send(`${signedUrl}${path}`, method, withBody, true) : await send(`${loopbackUrl}${path}`, method, withBody, false);
        const b = signedFirst ? await send(`${loopbackUrl}${path}`, method, withBody, false) : await send(`${signedUrl}${path}`, method, withBody, true);
        if (i < warmup) continue;
        signed.push(signedFirst ? a : b);
        unsigned.push(signedFirst ? b : a);
      }
      return {
        name,
        subject: summarize(signed),
        baseline: summarize(unsigned),
        subjectLabel: 'signed + Cedar',
        baselineLabel: 'unsigned loopback + Cedar',
        difference: summarize(signed.map((s, k) => s - (unsigned[k] as number))),
      };
    };
    const oneShot = await pair('POST /api/v1/sandbox/execute (/bin/true): signed vs unsigned loopback', '/api/v1/sandbox/execute', 'POST', true, n, 10);
    // One running sandbox, so listing evaluates Cedar once per request (tenancy filter) on both sides.
    const listed = await service.create({ runtime: 'namespace', limits: {}, metadata: {}, env: {}, mounts: [], agentId: PRINCIPAL.name });
    const list = await pair('GET /api/v1/sandboxes (one sandbox listed): signed vs unsigned loopback', '/api/v1/sandboxes', 'GET', false, n * 10, 200);
    await service.kill(listed.sandbox_id);
    const pairs = [oneShot, list];
    const parts = await benchAdmissionParts({ store, engine: signedAccess.engine, privateKey: keys.privateKey, keyid, url: `${signedUrl}/api/v1/sandbox/execute`, body, n: Math.max(2000, n * 10) });
    return { pairs, parts };
  } finally {
    await signedApp.close();
    await loopbackApp.close();
    await service.shutdown();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}
