/**
 * Proves runsc can really boot a sandbox on this host, through the driver's own create/start path
 * (cgroup, scratch tmpfs, seccomp, device masks, granted mount, teardown): it runs the static runsc
 * binary, bound read-only into an otherwise empty root, to print its version.
 */
import { closeSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { IsolationDriver, Limits } from '../driver.ts';

const PROBE_LIMITS: Limits = {
  memoryMb: 256,
  cpuCores: 1,
  pids: 16,
  timeoutSeconds: 30,
  scratchMb: 1,
  outputBytes: 65_536,
  openFiles: 64,
};

/** Boots one sandbox running `runsc --version`; resolves with what it printed, rejects with why not. */
export async function bootCheck(driver: IsolationDriver, runsc: string, baseDir: string): Promise<string> {
  const id = `probe-${randomBytes(6).toString('hex')}`;
  // A dot name: never taken for a sandbox bundle by GvisorDriver.reapStale().
  const rootfs = `${baseDir}/.${id}-root`;
  // Only the mount points the spec needs; root-owned and read-only to the sandbox.
  mkdirSync(rootfs, { mode: 0o755 });
  try {
    for (const dir of ['proc', 'dev', 'sys', 'tmp']) mkdirSync(`${rootfs}/${dir}`, { mode: 0o755 });
    closeSync(openSync(`${rootfs}/runsc`, 'wx', 0o755));
    const sandbox = await driver.create({
      id,
      image: { name: 'probe', digest: `sha256:${'0'.repeat(64)}`, rootfs },
      limits: PROBE_LIMITS,
      env: {},
      mounts: [{ hostPath: runsc, sandboxPath: '/runsc', writable: false }],
      workdir: '/',
      network: { kind: 'isolated' },
    });
    try {
      const proc = await sandbox.start({ argv: ['/runsc', '--version'], stdin: false });
      let out = '';
      proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
      proc.stderr.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
      const exit = await proc.exit;
      if (exit.code !== 0) throw new Error(`probe sandbox exited with ${exit.code ?? exit.signal}: ${out.trim().slice(0, 500)}`);
      return `booted in a sandbox: ${out.split('\n')[0]?.trim() ?? ''}`;
    } finally {
      await sandbox.destroy();
    }
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
}
