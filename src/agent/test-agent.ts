/**
 * Shared by the agent's integration tests: a freshly built agent in a private state directory,
 * run directly on the host as an unprivileged uid, and small helpers around the client.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { AgentClient } from './client.ts';
import { ensureAgent, type AgentBinary } from './build.ts';
import type { ExecOptions } from './exec-handle.ts';
import type { ExitStatus } from './messages.ts';

/** A host uid no account uses: the agent runs unprivileged, as it does inside a sandbox. */
export const TEST_UID = 1_600_000_000 + (process.pid % 50_000);

/** Environment given to test commands (nothing else is inherited). */
export const TEST_ENV: Readonly<Record<string, string>> = Object.freeze({ PATH: '/usr/bin:/bin', LANG: 'C' });

/** Builds the agent into a private, world-traversable state directory. */
export async function buildTestAgent(): Promise<{ stateDir: string; agent: AgentBinary }> {
  const stateDir = mkdtempSync('/tmp/airlock-agent-test-');
  // Traversable by the unprivileged uids the agent runs as (mkdtemp makes it 0700).
  chmodSync(stateDir, 0o755);
  return { stateDir, agent: await ensureAgent({ stateDir }) };
}

/**
 * Shell (agent pid as $1) that prints only `done` when a command can neither open the agent's
 * descriptors nor read its memory, though it runs as the same user.
 */
export const PROBE_AGENT = [
  'ls /proc/$1/fd >/dev/null 2>&1 && echo fd-listed',
  'echo x 2>/dev/null >/proc/$1/fd/1 && echo fd-written',
  'head -c1 /proc/$1/mem >/dev/null 2>&1 && echo mem-read',
  'echo done',
].join('; ');

/** A running agent process and its client. */
export interface HostAgent {
  child: ChildProcess;
  client: AgentClient;
  exit: Promise<ExitStatus>;
  stderr: () => string;
}

/** Runs the agent on the host as TEST_UID with `work` (owned by that uid) as its directory. */
export function startHostAgent(binary: string, work: string): HostAgent {
  mkdirSync(work, { recursive: true, mode: 0o755 });
  chownSync(work, TEST_UID, TEST_UID);
  const child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'pipe'], uid: TEST_UID, gid: TEST_UID, cwd: work, env: {} });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exit = new Promise<ExitStatus>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const client = new AgentClient({ stdin: child.stdin as Writable, stdout: child.stdout as Readable });
  return { child, client, exit, stderr: () => stderr };
}

/** What a command printed and how it ended. */
export interface RunResult extends ExitStatus {
  stdout: string;
  stderr: string;
  pid: number;
}

/** Runs one command to completion, feeding `input` to its stdin when given. */
export async function run(
  client: AgentClient,
  argv: string[],
  options: Partial<ExecOptions> & { input?: string | Buffer } = {},
): Promise<RunResult> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const handle = client.exec({
    env: { ...TEST_ENV },
    cwd: '/',
    ...options,
    argv,
    stdin: options.input !== undefined || options.stdin === true,
    onStdout: (c) => out.push(Buffer.from(c)),
    onStderr: (c) => err.push(Buffer.from(c)),
  });
  if (options.input !== undefined) {
    await handle.writeStdin(options.input);
    await handle.closeStdin();
  }
  const exit = await handle.exit;
  return { code: exit.code, signal: exit.signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), pid: await handle.pid };
}

/** Host pids whose process group is `pgid` (read from /proc; a sandbox's pids are the host's too). */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields[0] is the state; a zombie waits only to be reaped and runs nothing.
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') members.push(Number(name));
    } catch {
      // Exited meanwhile.
    }
  }
  return members;
}

/** Polls `check` until it holds or `ms` pass. */
export async function eventually(check: () => boolean, ms = 5_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}
