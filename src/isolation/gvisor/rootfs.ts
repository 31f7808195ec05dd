/**
 * The root runsc boots from: a read-only overlay of a small per-sandbox skeleton over the image.
 *
 * Why not the image directory itself: runsc creates missing mount points and the working
 * directory *in the host directory it is given as root* (its gofer bind-mounts each bind source
 * onto `<root>/<destination>`, even with `root.readonly`), which would write into a
 * content-addressed image shared by every sandbox. Here every mount point is made in the skeleton
 * first, and the merged view is mounted read-only on the host, so neither runsc nor its gofer can
 * change anything, and the image stays byte-for-byte what was verified.
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, closeSync, lstatSync, mkdirSync, openSync, type Stats } from 'node:fs';
import { promisify } from 'node:util';
import { AGENT_MOUNT, SECRETS_MOUNT, type SandboxSpec } from '../driver.ts';
import { ControlError } from '../../host/control-error.ts';
import type { BundlePaths, MountTools } from './bundle.ts';
import { RUNSC_ENV } from './runsc.ts';

const run = promisify(execFile);

/** A mount point the skeleton must provide: a directory, or a file for a file bind. */
export interface MountPoint {
  path: string;
  kind: 'dir' | 'file';
}

/** Mount points of the spec's own bind mounts (device masks; /tmp and the standard dirs). */
const BASE_POINTS: MountPoint[] = [
  { path: '/proc', kind: 'dir' },
  { path: '/sys', kind: 'dir' },
  { path: '/tmp', kind: 'dir' },
  { path: '/dev', kind: 'dir' },
  { path: '/dev/pts', kind: 'dir' },
  { path: '/dev/fuse', kind: 'file' },
];

/** Mount points for `spec`: the base ones, each grant outside /tmp, and the workdir. */
export function mountPoints(spec: SandboxSpec, grantKinds: ('dir' | 'file')[]): MountPoint[] {
  const points = [...BASE_POINTS];
  const outsideTmp = (p: string) => p !== '/tmp' && !p.startsWith('/tmp/');
  spec.mounts.forEach((m, i) => {
    if (outsideTmp(m.sandboxPath)) points.push({ path: m.sandboxPath, kind: grantKinds[i] ?? 'dir' });
  });
  if (outsideTmp(spec.workdir)) points.push({ path: spec.workdir, kind: 'dir' });
  if (spec.agentDir !== undefined) points.push({ path: AGENT_MOUNT, kind: 'dir' });
  if ((spec.secrets ?? []).length > 0) points.push({ path: SECRETS_MOUNT, kind: 'dir' });
  return points;
}

/**
 * Creates each missing mount point in the skeleton (parents copy the image's owner and mode, so
 * the merged view looks like the image) and mounts the read-only overlay at `paths.root`: the
 * skeleton over `layers` (root-owned directories of the driver, e.g. the agent's) over the image.
 */
export async function mountRoot(paths: BundlePaths, image: string, points: MountPoint[], tools: MountTools, layers: string[] = []): Promise<void> {
  for (const [what, p] of [['bundle', paths.dir], ['image', image], ...layers.map((l) => ['layer', l] as const)] as const) {
    // Overlay options are comma- and colon-separated: such characters would change their meaning.
    if (/[,:\\\s]/.test(p)) throw new ControlError('image', `${what} path ${p} has characters an overlay mount can't take`);
  }
  mkdirSync(paths.skeleton, { mode: 0o755 });
  mkdirSync(paths.root, { mode: 0o700 });
  for (const point of points) addPoint(paths.skeleton, image, point);
  const options = `ro,nosuid,nodev,lowerdir=${[paths.skeleton, ...layers, image].join(':')}`;
  try {
    await run(tools.mount, ['--no-canonicalize', '-t', 'overlay', '-o', options, 'airlock-root', paths.root], { env: RUNSC_ENV });
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    throw new ControlError('image', `cannot mount the image read-only at ${paths.root}: ${detail}`, { cause: err });
  }
}

function addPoint(skeleton: string, image: string, point: MountPoint): void {
  const parts = point.path.split('/').filter(Boolean);
  let rel = '';
  for (const [i, part] of parts.entries()) {
    rel = `${rel}/${part}`;
    const last = i === parts.length - 1;
    const inImage = lstatOrNull(`${image}${rel}`);
    // A symlink on the way could point the mount anywhere: refuse rather than follow.
    if (inImage?.isSymbolicLink()) throw new ControlError('image', `${rel} is a symlink in the image; can't mount at ${point.path}`);
    const wantDir = !last || point.kind === 'dir';
    if (inImage !== null && inImage.isDirectory() === wantDir && (wantDir || inImage.isFile())) {
      // Present with the right kind. A directory still gets a skeleton twin when something below it is added.
      if (wantDir && !last) ensureDir(`${skeleton}${rel}`, inImage);
      continue;
    }
    if (wantDir) ensureDir(`${skeleton}${rel}`, inImage?.isDirectory() === true ? inImage : null);
    else closeSync(openSync(`${skeleton}${rel}`, 'wx', 0o444));
  }
}

function ensureDir(path: string, like: Stats | null): void {
  if (lstatOrNull(path) !== null) return;
  mkdirSync(path);
  // Exact mode (mkdir's is masked by the umask) and owner of the image's directory it stands in for.
  chmodSync(path, like === null ? 0o755 : like.mode & 0o7777);
  if (like !== null) chownSync(path, like.uid, like.gid);
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw new ControlError('image', `cannot inspect ${path}: ${(err as Error).message}`, { cause: err });
  }
}
