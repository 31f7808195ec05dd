/**
 * `image pull` against a real registry on loopback (Debian's docker-registry), with images pushed
 * by skopeo from archives built here: pull by tag and by digest, a tampered blob refused, plain HTTP
 * refused beyond loopback, the image policy (registry not allowed, signature required, cosign
 * signatures by the right and the wrong key, airlock's own `image sign`), through the library and
 * the CLI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readdir, readFile, mkdtemp, rm, writeFile, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema, type AirlockConfig } from '../../../src/config/config.ts';
import type { ImagePolicyConfig } from '../../../src/config/image-policy-config.ts';
import { pullImage } from '../../../src/images/registry/pull.ts';
import { resolveImage } from '../../../src/images/store.ts';
import { storePaths } from '../../../src/images/paths.ts';
import { readTag } from '../../../src/images/tags.ts';
import { buildPayload } from '../../../src/images/signatures/payload.ts';
import { evaluateStoredImage, ImagePolicyRefusal } from '../../../src/images/signatures/policy.ts';
import { readOrigins } from '../../../src/images/signatures/records.ts';
import { signPayload, signStoredImage } from '../../../src/images/signatures/sign.ts';
import { runCli } from '../../../src/cli/test-cli.ts';
import { manifestDigest, pushCosignSignature, pushIndex, registrySkipReason, skopeoPush, startRegistry, writeDockerArchive } from './fixture.ts';

const skip = registrySkipReason();

function keyPair(type: 'ec' | 'ed25519') {
  const pair = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : generateKeyPairSync('ed25519');
  return { privateKey: pair.privateKey, publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }) as string, privatePem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

test('image pull from a real registry on loopback', { skip, timeout: 240_000 }, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'airlock-test-pull-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const registry = await startRegistry();
  t.after(() => registry.stop());
  const stateDir = join(work, 'state');
  const withPolicy = (imagePolicy: Partial<ImagePolicyConfig>): AirlockConfig => configSchema.parse({ stateDir, imagePolicy });
  const open_ = withPolicy({});
  const host = registry.host;

  const push = async (repo: string, files: Record<string, string | Buffer>): Promise<string> => {
    const archive = join(work, `${repo.replace(/\//g, '_')}.tar`);
    await writeDockerArchive(archive, files, `${repo}:v1`);
    skopeoPush(archive, `${host}/${repo}:v1`);
    return manifestDigest(host, repo, 'v1');
  };
  const appDigest = await push('test/app', { 'etc/': '', 'etc/hello.txt': 'hello from the registry\n' });

  await t.test('by tag: stored, resolvable, with its origin recorded', async () => {
    const r = await pullImage(open_, `${host}/test/app:v1`, { insecureRegistry: true, name: 'app' });
    assert.equal(r.name, 'app');
    assert.equal(r.manifestDigest, appDigest);
    assert.equal(r.reference, `${host}/test/app:v1@${appDigest}`);
    assert.equal(r.signer, null);
    assert.equal(r.layers, 1);
    const image = await resolveImage(open_, 'app');
    assert.equal(image.digest, r.digest);
    assert.equal(await readFile(join(image.rootfs, 'etc/hello.txt'), 'utf8'), 'hello from the registry\n');
    assert.deepEqual(
      (await readOrigins(storePaths(open_), r.digest)).map((o) => [o.origin, o.manifestDigest]),
      [[`${host}/test/app`, appDigest]],
    );
  });

  await t.test('by digest: the same stored image', async () => {
    const r = await pullImage(open_, `${host}/test/app@${appDigest}`, { insecureRegistry: true, name: 'app-pinned' });
    assert.equal(r.manifestDigest, appDigest);
    assert.equal(r.digest, readTag(storePaths(open_), 'app'));
  });

  await t.test('an image index: the linux/amd64 manifest is pulled, and one without it is refused naming what it has', async () => {
    const indexDigest = await pushIndex(host, 'test/app', 'multi', appDigest, ['linux/arm64', 'linux/amd64']);
    const r = await pullImage(open_, `${host}/test/app:multi`, { insecureRegistry: true, name: 'app-multi' });
    assert.equal(r.manifestDigest, appDigest);
    assert.equal(r.reference, `${host}/test/app:multi@${indexDigest}`);
    assert.equal(r.digest, readTag(storePaths(open_), 'app'));
    assert.ok((await readOrigins(storePaths(open_), r.digest)).some((o) => o.indexDigest === indexDigest));
    await pushIndex(host, 'test/app', 'arm-only', appDigest, ['linux/arm64', 'windows/amd64']);
    await assert.rejects(pullImage(open_, `${host}/test/app:arm-only`, { insecureRegistry: true, name: 'arm' }), /the image index has no linux\/amd64 manifest \(it has: linux\/arm64, windows\/amd64\)/);
  });

  await t.test('a manifest the registry serves altered for its digest is refused', async () => {
    const digest = await push('test/mtampered', { 'etc/': '', 'etc/m.txt': 'manifest\n' });
    // Flip one hex digit of the config digest inside the stored manifest: still JSON, another hash.
    const path = registry.blobPath(digest);
    const text = await readFile(path, 'utf8');
    const at = text.indexOf('sha256:') + 'sha256:'.length;
    await writeFile(path, `${text.slice(0, at)}${text[at] === '0' ? '1' : '0'}${text.slice(at + 1)}`);
    await assert.rejects(pullImage(open_, `${host}/test/mtampered@${digest}`, { insecureRegistry: true, name: 'mtampered' }), new RegExp(`manifest ${digest} hashes to sha256:[0-9a-f]{64}: refused`));
    assert.equal(readTag(storePaths(open_), 'mtampered'), null);
  });

  await t.test('plain HTTP only for loopback, and only when asked', async () => {
    for (const ref of ['10.1.2.3:5000/test/app:v1', 'registry.example.com/test/app:v1', '[2001:db8::1]:5000/test/app:v1']) {
      await assert.rejects(pullImage(open_, ref, { insecureRegistry: true }), /--insecure-registry is accepted only for a loopback registry/, ref);
    }
    // Without the flag, the loopback registry is spoken to over HTTPS, which it does not serve.
    await assert.rejects(pullImage(open_, `${host}/test/app:v1`, { name: 'https-only' }), (err: Error) => err.message.includes(`https://${host}`) || err.message.includes(host));
    assert.equal(readTag(storePaths(open_), 'https-only'), null);
  });

  await t.test('a tampered blob in the registry storage is refused, naming it; nothing is stored', async () => {
    const digest = await push('test/tampered', { 'etc/': '', 'etc/data.txt': 'original content '.repeat(64) });
    const manifest = JSON.parse(await (await fetch(`http://${host}/v2/test/tampered/manifests/${digest}`, { headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } })).text()) as { layers: { digest: string }[] };
    const layer = manifest.layers[0]?.digest as string;
    const file = await open(registry.blobPath(layer), 'r+');
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, 100);
    byte[0] = (byte[0] as number) ^ 0xff;
    await file.write(byte, 0, 1, 100);
    await file.close();
    await assert.rejects(pullImage(open_, `${host}/test/tampered:v1`, { insecureRegistry: true, name: 'tampered' }), new RegExp(`blob ${layer} does not match its digest`));
    assert.equal(readTag(storePaths(open_), 'tampered'), null);
    assert.deepEqual((await readdir(storePaths(open_).tmp)).filter((n) => n.startsWith('pull-')), [], 'no pull directory is left behind');
  });

  await t.test('an interrupted pull stores nothing and leaves no work directory', async () => {
    await push('test/big', { 'etc/': '', 'big.bin': randomBytes(8 * 1024 * 1024) });
    const abort = new AbortController();
    await assert.rejects(
      pullImage(open_, `${host}/test/big:v1`, { insecureRegistry: true, name: 'big', signal: abort.signal, onProgress: (p) => (p.bytes > 0 ? abort.abort() : undefined) }),
      (err: Error) => abort.signal.aborted && err !== undefined,
    );
    assert.equal(readTag(storePaths(open_), 'big'), null);
    assert.deepEqual((await readdir(storePaths(open_).tmp)).filter((n) => n.startsWith('pull-') || n.startsWith('import-')), []);
  });

  await t.test('policy: a registry no rule allows is refused before anything is fetched', async () => {
    const config = withPolicy({ rules: [{ name: 'corp', match: ['registry.corp.example/**'], requireSignature: false, keys: [] }], unmatched: 'deny' });
    await assert.rejects(pullImage(config, `${host}/test/app:v1`, { insecureRegistry: true, name: 'denied' }), (err: Error) => {
      assert.ok(err instanceof ImagePolicyRefusal);
      assert.match(err.message, new RegExp(`image origin ${host}/test/app is not allowed: no imagePolicy rule matches it and imagePolicy.unmatched is deny`));
      return true;
    });
  });

  const a = keyPair('ec');
  const b = keyPair('ed25519');
  const requiring = (id: string, pem: string) => withPolicy({ rules: [{ name: 'signed-only', match: ['127.0.0.1:*/**', 'local/**'], requireSignature: true, keys: [{ id, pem }] }] });
  const requireA = requiring('key-a', a.publicPem);
  const requireB = requiring('key-b', b.publicPem);
  const signedDigest = await push('test/signed', { 'etc/': '', 'etc/signed.txt': 'signed\n' });
  const payload = buildPayload(`${host}/test/signed`, signedDigest);
  await pushCosignSignature(host, 'test/signed', signedDigest, payload, signPayload(a.privateKey, payload).toString('base64'));

  await t.test('signature required: an unsigned image is refused, naming the rule', async () => {
    await assert.rejects(pullImage(requireA, `${host}/test/app:v1`, { insecureRegistry: true, name: 'unsigned' }), /imagePolicy rule "signed-only", which requires a signature: it has no signature/);
    assert.equal(readTag(storePaths(open_), 'unsigned'), null);
    // And at run time: the stored, unsigned image is refused too.
    await assert.rejects(evaluateStoredImage(requireA, await resolveImage(open_, 'app')), /imagePolicy rule "signed-only"/);
  });

  await t.test('a cosign signature by a trusted ECDSA P-256 key is accepted', async () => {
    const r = await pullImage(requireA, `${host}/test/signed:v1`, { insecureRegistry: true, name: 'signed' });
    assert.equal(r.signer, 'key-a');
    const trust = await evaluateStoredImage(requireA, await resolveImage(requireA, 'signed'));
    assert.deepEqual(trust, { origin: `${host}/test/signed`, rule: 'signed-only', signer: 'key-a', signatureFormat: 'cosign' });
  });

  await t.test('a signature by a key the rule does not trust is refused', async () => {
    await assert.rejects(pullImage(requireB, `${host}/test/signed:v1`, { insecureRegistry: true, name: 'signed-b' }), /imagePolicy rule "signed-only".*none of its 1 signature\(s\) verifies with the rule's keys \(key-b\)/);
    await assert.rejects(evaluateStoredImage(requireB, await resolveImage(open_, 'signed')), /imagePolicy rule "signed-only"/);
  });

  await t.test('a cosign signature over another digest does not vouch for this image', async () => {
    const digest = await push('test/misbound', { 'etc/': '', 'etc/x.txt': 'x\n' });
    const wrong = buildPayload(`${host}/test/misbound`, signedDigest);
    await pushCosignSignature(host, 'test/misbound', digest, wrong, signPayload(a.privateKey, wrong).toString('base64'));
    await assert.rejects(pullImage(requireA, `${host}/test/misbound:v1`, { insecureRegistry: true, name: 'misbound' }), /none of its 1 signature/);
  });

  await t.test('airlock image sign (Ed25519): accepted by a rule trusting its key, and only that one', async () => {
    const keyFile = join(work, 'sign-key.pem');
    await writeFile(keyFile, b.privatePem, { mode: 0o600 });
    const signed = await signStoredImage(open_, 'app', keyFile);
    assert.equal(signed.digest, (await resolveImage(open_, 'app')).digest);
    const trust = await evaluateStoredImage(requireB, await resolveImage(open_, 'app'));
    assert.equal(trust.signer, 'key-b');
    assert.equal(trust.signatureFormat, 'airlock');
    await assert.rejects(evaluateStoredImage(requireA, await resolveImage(open_, 'app')), /imagePolicy rule "signed-only"/);
  });

  await t.test('the CLI: image pull --insecure-registry and image sign --key', async () => {
    const configFile = join(work, 'config.json');
    await writeFile(configFile, JSON.stringify({ stateDir }));
    const pulled = await runCli(['image', 'pull', '--insecure-registry', '--json', '--name', 'cli-app', `${host}/test/app:v1`], { config: configFile });
    assert.equal(pulled.code, 0, pulled.stderr);
    const result = JSON.parse(pulled.stdout) as { name: string; digest: string; manifestDigest: string };
    assert.equal(result.name, 'cli-app');
    assert.equal(result.manifestDigest, appDigest);
    const refused = await runCli(['image', 'pull', '--insecure-registry', '10.9.9.9:5000/x:y'], { config: configFile });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /only for a loopback registry/);
    const keyFile = join(work, 'cli-key.pem');
    await writeFile(keyFile, a.privatePem, { mode: 0o600 });
    const signed = await runCli(['image', 'sign', 'cli-app', '--key', keyFile], { config: configFile });
    assert.equal(signed.code, 0, signed.stderr);
    assert.match(signed.stdout, new RegExp(`^signed cli-app ${result.digest} with key sha256:[0-9a-f]{64}\\n$`));
    assert.equal((await evaluateStoredImage(requireA, await resolveImage(open_, 'cli-app'))).signatureFormat, 'airlock');
  });
});
