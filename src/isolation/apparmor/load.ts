/**
 * Loads airlock's AppArmor profiles into the kernel with apparmor_parser, and checks their syntax.
 *
 * Who loads what, and why both:
 * - the controller replaces `airlock-sandbox` (from its own rendering, `-K`: no cache) the first
 *   time a namespace driver starts a sandbox. Why: the profile in force must be the one the running
 *   code was written against, after an upgrade too, whatever setup last installed.
 * - scripts/setup.sh (install.ts) writes both profiles to /etc/apparmor.d and loads them (`-W`:
 *   cached). Why: the boot-time AppArmor service then loads them before any controller runs, so
 *   `airlock doctor` can report them, and on Ubuntu 23.10+ bubblewrap's userns grant exists before
 *   the driver's first probe (only root may load profiles; the grant isn't the controller's to make).
 * Replacing a profile is idempotent: loading the same text again changes nothing in force.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { ControlError } from '../../host/control-error.ts';
import { findExecutable } from '../../host/which.ts';
import { detectAppArmor, loadedProfiles, type AppArmorState } from './detect.ts';
import { renderSandboxProfile, SANDBOX_PROFILE } from './profile.ts';

/** What the namespace tier applies to each sandbox where AppArmor is active. */
export interface Confinement {
  /** The profile stacked onto the sandbox's first process (see the agent's `--apparmor-stack`). */
  profile: string;
}

/** Exit status and stderr of one apparmor_parser run. */
interface ParserRun {
  code: number | null;
  stderr: string;
}

/** Runs apparmor_parser with `text` on stdin. */
function runParser(parser: string, args: readonly string[], text: string): Promise<ParserRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(parser, args, { stdio: ['pipe', 'ignore', 'pipe'], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' } });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 8192) stderr += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stderr: stderr.trim() }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(text);
  });
}

/** The parser's path, or a ControlError naming the package. */
export function requireParser(): string {
  const parser = findExecutable('apparmor_parser');
  if (parser === undefined) throw new ControlError('apparmor', 'AppArmor is active but apparmor_parser is not installed (apt-get install apparmor): the sandbox profile cannot be loaded');
  return parser;
}

/**
 * Parses and compiles `text` without loading it (`apparmor_parser -Q`); resolves with the parser's
 * complaint, or undefined when the profile is valid for this parser and kernel.
 */
export async function checkSyntax(text: string, parser: string = requireParser()): Promise<string | undefined> {
  const result = await runParser(parser, ['--skip-kernel-load', '--skip-cache'], text);
  return result.code === 0 ? undefined : result.stderr || `apparmor_parser exited ${result.code}`;
}

/** Loads (or replaces) the profile in `text`; `cache` also writes the parser's cache (setup only). */
export async function loadProfile(text: string, parser: string, options: { cache?: boolean } = {}): Promise<void> {
  const result = await runParser(parser, ['--replace', options.cache === true ? '--write-cache' : '--skip-cache'], text);
  if (result.code !== 0) throw new ControlError('apparmor', `apparmor_parser could not load the profile: ${result.stderr || `exit ${result.code}`}`);
}

/**
 * Makes sure the sandbox profile is loaded in enforce mode and returns what to apply, or undefined
 * where AppArmor is not active (there is nothing to apply then). Fails closed: where AppArmor is
 * active and the profile can't be put in force, no namespace sandbox starts.
 *
 * `runDir` (a tmpfs, empty after each boot) keeps a stamp of the text last loaded since boot, so a
 * short-lived controller (`airlock run`) doesn't compile the profile on every start: the parser runs
 * only when the text changed or the profile is not in force.
 */
export async function prepareConfinement(runDir: string | undefined, state: AppArmorState = detectAppArmor()): Promise<Confinement | undefined> {
  if (!state.enabled) return undefined;
  if (state.profilesFile === undefined) throw new ControlError('apparmor', state.reason);
  const text = renderSandboxProfile();
  const stamp = runDir === undefined ? undefined : `${runDir}/apparmor/${createHash('sha256').update(text).digest('hex')}`;
  if (stamp !== undefined && existsSync(stamp) && loadedProfiles(state).get(SANDBOX_PROFILE) === 'enforce') return { profile: SANDBOX_PROFILE };
  await loadProfile(text, requireParser());
  const mode = loadedProfiles(state).get(SANDBOX_PROFILE);
  // Why: a profile in complain mode only logs; the layer would be there in name only.
  if (mode !== 'enforce') throw new ControlError('apparmor', `the ${SANDBOX_PROFILE} profile is ${mode === undefined ? 'not loaded' : `in ${mode} mode`} after loading it`);
  if (stamp !== undefined) {
    mkdirSync(`${runDir}/apparmor`, { recursive: true, mode: 0o700 });
    writeFileSync(stamp, '');
  }
  return { profile: SANDBOX_PROFILE };
}
