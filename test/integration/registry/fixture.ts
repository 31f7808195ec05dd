/**
 * A real OCI registry on loopback for tests: Debian's `docker-registry` (the reference distribution
 * registry) started on a free port with its own storage, and images pushed to it with `skopeo`
 * from `docker save` archives built here (no image comes from outside the machine).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';

export const REGISTRY_BIN = '/usr/bin/docker-registry';
export const SKOPEO_BIN = '/usr/bin/skopeo';

/** Why the registry tests can't run here, or false. */
export function registrySkipReason(): string | false {
  if (!existsSync(REGISTRY_BIN)) return 'docker-registry is not installed (Debian package docker-registry)';
  if (!existsSync(SKOPEO_BIN)) return 'skopeo is not installed (Debian package skopeo)';
  if (process.getuid?.() !== 0) return 'image import needs root (the store is root-owned)';
  return false;
}

/** A running registry. */
export interface TestRegistry {
  /** `127.0.0.1:PORT`: the registry part of references. */
  host: string;
  /** Its blob storage, for tampering. */
  storage: string;
  /** Path of the blob `digest`'s data in the storage. */
  blobPath(digest: string): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * A bcrypt htpasswd line made with Python's crypt module (cost 4: the registry checks it on every
 * request); undefined when this Python has no bcrypt.
 */
export function htpasswdLine(user: string, password: string): string | undefined {
  const r = spawnSync('python3', ['-W', 'ignore', '-c', 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))', password], { encoding: 'utf8' });
  const hash = r.stdout.trim();
  return r.status === 0 && hash.startsWith('$2') ? `${user}:${hash}` : undefined;
}

/** Starts a registry on a free loopback port; with `htpasswd`, it requires basic auth. */
export async function startRegistry(options: { htpasswd?: string } = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-test-registry-'));
  const storage = join(dir, 'storage');
  const port = await freePort();
  const auth = options.htpasswd === undefined ? '' : `auth:\n  htpasswd:\n    realm: airlock-test\n    path: ${join(dir, 'htpasswd')}\n`;
  if (options.htpasswd !== undefined) await writeFile(join(dir, 'htpasswd'), `${options.htpasswd}\n`);
  await writeFile(
    join(dir, 'config.yml'),
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${storage}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${auth}`,
  );
  const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-4000);
  });
  const host = `127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`docker-registry exited: ${stderr}`);
    }
    const res = await fetch(`http://${host}/v2/`).catch(() => undefined);
    if (res !== undefined && (res.status === 200 || res.status === 401)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not answer on ${host}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const blobPath = (digest: string) => {
    const hex = digest.slice('sha256:'.length);
    return join(storage, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
  };
  return { host, storage, blobPath, stop };
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A tar of `files` (path → content; a path ending in / is a directory). */
export async function tarOf(files: Record<string, string | Buffer>): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = once(p, 'end');
  for (const [name, content] of Object.entries(files)) {
    if (name.endsWith('/')) p.entry({ name, type: 'directory', mode: 0o755 });
    else p.entry({ name, type: 'file', mode: 0o644 }, content);
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/**
 * Writes a `docker save` archive of a one-layer image holding `files` to `path`; `repoTag` is
 * the name recorded in it.
 */
export async function writeDockerArchive(path: string, files: Record<string, string | Buffer>, repoTag: string): Promise<void> {
  const layer = await tarOf(files);
  const layerHex = sha256(layer);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['/bin/sh'], Env: ['PATH=/usr/bin:/bin'], WorkingDir: '/' },
      rootfs: { type: 'layers', diff_ids: [`sha256:${layerHex}`] },
    }),
  );
  const configHex = sha256(config);
  const manifest = Buffer.from(JSON.stringify([{ Config: `${configHex}.json`, RepoTags: [repoTag], Layers: [`${layerHex}/layer.tar`] }]));
  const p = pack();
  p.entry({ name: `${layerHex}/`, type: 'directory', mode: 0o755 });
  p.entry({ name: `${layerHex}/layer.tar`, mode: 0o644 }, layer);
  p.entry({ name: `${configHex}.json`, mode: 0o644 }, config);
  p.entry({ name: 'manifest.json', mode: 0o644 }, manifest);
  p.finalize();
  await pipeline(p, createWriteStream(path));
}

/** Pushes a `docker save` archive to `dest` (`HOST/REPO:TAG`) with skopeo over plain HTTP. */
export function skopeoPush(archive: string, dest: string, creds?: string): void {
  const args = ['copy', '--quiet', '--dest-tls-verify=false', ...(creds === undefined ? [] : ['--dest-creds', creds]), `docker-archive:${archive}`, `docker://${dest}`];
  const r = spawnSync(SKOPEO_BIN, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`skopeo ${args.join(' ')}: ${r.error?.message ?? r.stderr}`);
}

/** The digest of the manifest `HOST/REPO:TAG` points at (asked of the registry itself). */
export async function manifestDigest(host: string, repo: string, tag: string): Promise<string> {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, {
    headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' },
  });
  if (!res.ok) throw new Error(`manifest ${repo}:${tag}: HTTP ${res.status}`);
  return `sha256:${sha256(Buffer.from(await res.arrayBuffer()))}`;
}

async function uploadBlob(host: string, repo: string, bytes: Buffer): Promise<{ digest: string; size: number }> {
  const digest = `sha256:${sha256(bytes)}`;
  const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`blob upload start: HTTP ${start.status}`);
  const location = new URL(start.headers.get('location') as string, `http://${host}/`);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
  if (put.status !== 201) throw new Error(`blob upload: HTTP ${put.status}: ${await put.text()}`);
  return { digest, size: bytes.length };
}

/**
 * Pushes a cosign-format signature for `digest` of `repo`: the manifest tagged `sha256-<hex>.sig`
 * with one simple-signing layer (the payload) carrying the base64 signature in its annotation.
 */
export async function pushCosignSignature(host: string, repo: string, digest: string, payload: Buffer, signatureB64: string): Promise<void> {
  const config = await uploadBlob(host, repo, Buffer.from(JSON.stringify({ architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(payload)}`] } })));
  const layer = await uploadBlob(host, repo, payload);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', ...layer, annotations: { 'dev.cosignproject.cosign/signature': signatureB64 } }],
  });
  const tag = `${digest.replace(':', '-')}.sig`;
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: manifest, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
  if (res.status !== 201) throw new Error(`signature manifest: HTTP ${res.status}: ${await res.text()}`);
}

/**
 * Pushes an image index (manifest list) tagged `tag` whose entries point at `manifest` (a manifest
 * already in `repo`) under the given platforms.
 */
export async function pushIndex(host: string, repo: string, tag: string, manifest: string, platforms: readonly string[]): Promise<string> {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${manifest}`, { headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' } });
  const bytes = Buffer.from(await res.arrayBuffer());
  const mediaType = (res.headers.get('content-type') ?? '').split(';')[0] as string;
  const index = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: platforms.map((p) => {
      const [os, architecture] = p.split('/');
      return { mediaType, digest: manifest, size: bytes.length, platform: { os, architecture } };
    }),
  });
  const put = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: index, headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' } });
  if (put.status !== 201) throw new Error(`index ${repo}:${tag}: HTTP ${put.status}: ${await put.text()}`);
  return `sha256:${sha256(Buffer.from(index))}`;
}
