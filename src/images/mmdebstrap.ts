/** Runs mmdebstrap and streams its progress lines, prefixed, to a log callback. */
import { spawn } from 'node:child_process';

/** Arguments of one bootstrap; every value was validated by the caller. */
export interface MmdebstrapRun {
  suite: string;
  mirror: string;
  packages: readonly string[];
  /** Must not exist yet; its parent must. */
  target: string;
  log: (line: string) => void;
}

/**
 * dpkg path filters: documentation, manuals and translations are dead weight in a sandbox and only
 * add files to hash. Copyright files stay (licence terms travel with the binaries).
 */
const DPKG_OPTIONS = [
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/locale/*',
  'path-include=/usr/share/locale/locale.alias',
  'path-exclude=/usr/share/lintian/*',
];

/** The argv (after the program name) for a minbase, root-mode, directory-format bootstrap. */
export function mmdebstrapArgs(run: Pick<MmdebstrapRun, 'suite' | 'mirror' | 'packages' | 'target'>): string[] {
  return [
    '--mode=root',
    '--variant=minbase',
    '--format=directory',
    `--include=${run.packages.join(',')}`,
    ...DPKG_OPTIONS.map((o) => `--dpkgopt=${o}`),
    // No translated package descriptions: smaller lists, nothing the image needs.
    '--aptopt=Acquire::Languages "none"',
    '--',
    run.suite,
    run.target,
    run.mirror,
  ];
}

/** Only what mmdebstrap needs from our environment; a stray variable must not change the image. */
function buildEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C.UTF-8' };
  for (const key of ['HOME', 'TMPDIR', 'SOURCE_DATE_EPOCH', 'http_proxy', 'https_proxy', 'no_proxy']) {
    const v = process.env[key];
    if (v !== undefined) env[key] = v;
  }
  return env;
}

function lineSplitter(prefix: string, log: (line: string) => void): { push: (chunk: Buffer) => void; end: () => void } {
  let rest = '';
  return {
    push(chunk) {
      // Progress bars redraw with \r; treat it as a line break so each update is one line.
      const parts = (rest + chunk.toString('utf8')).split(/\r\n|\r|\n/);
      rest = parts.pop() ?? '';
      for (const p of parts) if (p.trim() !== '') log(`${prefix}${p}`);
    },
    end() {
      if (rest.trim() !== '') log(`${prefix}${rest}`);
      rest = '';
    },
  };
}

/** Runs mmdebstrap to completion; rejects with its exit status and last output lines on failure. */
export async function runMmdebstrap(run: MmdebstrapRun): Promise<void> {
  const tail: string[] = [];
  const log = (line: string): void => {
    tail.push(line);
    if (tail.length > 5) tail.shift();
    run.log(line);
  };
  const child = spawn('mmdebstrap', mmdebstrapArgs(run), { env: buildEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const out = lineSplitter('mmdebstrap: ', log);
  const err = lineSplitter('mmdebstrap: ', log);
  child.stdout.on('data', out.push);
  child.stderr.on('data', err.push);
  const status = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  }).catch((e: NodeJS.ErrnoException) => {
    throw new Error(e.code === 'ENOENT' ? 'mmdebstrap is not installed (apt-get install mmdebstrap)' : e.message, { cause: e });
  });
  out.end();
  err.end();
  if (status.code !== 0) {
    const how = status.signal !== null ? `signal ${status.signal}` : `exit code ${status.code}`;
    throw new Error(`mmdebstrap failed (${how}):\n${tail.join('\n')}`);
  }
}
