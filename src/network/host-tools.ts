/**
 * The two host programs that build sandbox networks: `ip` (iproute2) and `nft` (nftables), found
 * in system directories only and run with a fixed environment and a time limit.
 */
import { spawn } from 'node:child_process';
import { ControlError } from '../isolation/driver.ts';
import { findExecutable } from '../isolation/which.ts';

export interface NetTools {
  ip: string;
  nft: string;
}

const TOOL_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };
const TIMEOUT_MS = 30_000;

/** Locates `ip` and `nft`, failing closed with the package to install. */
export function findNetTools(): NetTools {
  const ip = findExecutable('ip');
  const nft = findExecutable('nft');
  if (ip === undefined) throw new ControlError('network', '`ip` not found: install iproute2');
  if (nft === undefined) throw new ControlError('network', '`nft` not found: install nftables');
  return { ip, nft };
}

/** Runs a tool with optional stdin; resolves stdout, rejects with stderr in the message. */
export function runTool(path: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { env: TOOL_ENV, stdio: ['pipe', 'pipe', 'pipe'], timeout: TIMEOUT_MS, killSignal: 'SIGKILL' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.on('error', () => undefined);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) return resolve(Buffer.concat(out).toString('utf8'));
      const detail = Buffer.concat(err).toString('utf8').trim().split('\n').slice(0, 4).join(' / ');
      reject(new Error(`${path} ${args.join(' ')}: ${detail || `exit ${code ?? signal}`}`));
    });
    child.stdin.end(input ?? '');
  });
}
