/** The image config blob: platform checks, the run configuration kept, and the layers' diff ids. */
import { ImportError } from './import-error.ts';
import type { ImageRunConfig } from './types.ts';

/** What the import takes from an image config. */
export interface ParsedConfig {
  run: ImageRunConfig;
  diffIds: string[];
}

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** The OCI name of this host's architecture (`amd64` on x86-64). */
export function hostArchitecture(): string {
  return ARCH[process.arch] ?? process.arch;
}

function strings(v: unknown, field: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new ImportError(`image config: ${field} is not a list of strings`);
  return v as string[];
}

/** Parses and checks an image config; refuses another OS or architecture, naming it. */
export function parseImageConfig(bytes: Buffer, label: string): ParsedConfig {
  let doc: { os?: unknown; architecture?: unknown; config?: Record<string, unknown> | null; rootfs?: { type?: unknown; diff_ids?: unknown } };
  try {
    doc = JSON.parse(bytes.toString('utf8')) as typeof doc;
  } catch (err) {
    throw new ImportError(`${label}: not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (doc.os !== undefined && doc.os !== 'linux') throw new ImportError(`${label}: image is for os ${JSON.stringify(doc.os)}, not linux`);
  if (doc.architecture !== undefined && doc.architecture !== hostArchitecture()) {
    throw new ImportError(`${label}: image is for architecture ${JSON.stringify(doc.architecture)}; this host runs ${hostArchitecture()}`);
  }
  const diffIds = strings(doc.rootfs?.diff_ids, 'rootfs.diff_ids') ?? [];
  const c = doc.config ?? {};
  const run: ImageRunConfig = {};
  const entrypoint = strings(c['Entrypoint'], 'Entrypoint');
  const cmd = strings(c['Cmd'], 'Cmd');
  const env = strings(c['Env'], 'Env');
  if (entrypoint !== undefined) run.entrypoint = entrypoint;
  if (cmd !== undefined) run.cmd = cmd;
  if (env !== undefined) {
    // Why: the same names `--env` accepts; an entry with a NUL or an odd name could not be passed on as given.
    for (const e of env) if (!/^[A-Za-z_][A-Za-z0-9_]*=[^\0]*$/.test(e)) throw new ImportError(`image config: Env entry ${JSON.stringify(e)} is not NAME=VALUE`);
    run.env = env;
  }
  if (typeof c['WorkingDir'] === 'string' && c['WorkingDir'] !== '') run.workdir = c['WorkingDir'];
  if (typeof c['User'] === 'string' && c['User'] !== '') run.user = c['User'];
  return { run, diffIds };
}
