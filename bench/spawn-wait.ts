/** Spawns a process and resolves when it has exited; rejects on a non-zero exit. */
import { spawn, type SpawnOptions } from 'node:child_process';

export function spawnWait(cmd: string, args: string[], options: SpawnOptions = {}, input?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], ...options });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    if (input !== undefined) (child.stdio[3] as NodeJS.WritableStream | undefined)?.end(input);
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${err.trim()}`))));
  });
}
