/** Listing of stored images for `image ls`. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AirlockConfig } from '../config/config.ts';
import type { BuildInfo } from './build.ts';
import { parseManifest } from './manifest.ts';
import { blobDir, storePaths } from './paths.ts';
import { readVerifiedManifest } from './store.ts';
import { listTags } from './tags.ts';

/** One row of `image ls`. Size and file count come from the verified manifest, not build.json. */
export interface ImageSummary {
  name: string;
  digest: string;
  /** Sum of file sizes in bytes; null when the manifest could not be read or verified. */
  size: number | null;
  files: number | null;
  /** Build time from build.json (informational), or null. */
  created: string | null;
  /** Where the image came from (build.json, informational): `build SUITE`, `oci-layout PATH`, `registry REF`…, or null. */
  source: string | null;
  /** Why the image is unusable (missing blob, tampered manifest), or null when it looks fine. */
  problem: string | null;
}

/** Every tagged image, sorted by name. Never throws for one broken image: it reports it. */
export async function listImages(config: Pick<AirlockConfig, 'stateDir'>): Promise<ImageSummary[]> {
  const paths = storePaths(config);
  const rows: ImageSummary[] = [];
  for (const { name, digest } of await listTags(paths)) {
    const row: ImageSummary = { name, digest, size: null, files: null, created: null, source: null, problem: null };
    try {
      const entries = parseManifest(await readVerifiedManifest(paths, digest));
      const files = entries.filter((e) => e.type === 'file');
      row.files = files.length;
      row.size = files.reduce((n, e) => n + e.size, 0);
    } catch (err) {
      row.problem = (err as Error).message;
    }
    try {
      const info = JSON.parse(await readFile(join(blobDir(paths, digest), 'build.json'), 'utf8')) as Partial<BuildInfo> & { source?: { kind?: unknown; reference?: unknown } };
      if (typeof info.created === 'string') row.created = info.created;
      if (typeof info.source?.kind === 'string') row.source = [info.source.kind, info.source.reference].filter((s) => typeof s === 'string').join(' ');
      else if (typeof info.suite === 'string') row.source = `build ${info.suite}`;
    } catch {
      // build.json is informational; its absence only leaves CREATED empty.
    }
    rows.push(row);
  }
  return rows;
}
