/** What the driver benchmarks share: fresh specs for /bin/true, and one create → run → destroy cycle. */
import type { AirlockConfig } from '../src/config/config.ts';
import type { Image } from '../src/images/image.ts';
import type { IsolationDriver, SandboxSpec } from '../src/isolation/driver.ts';
import { BASE_ENV } from '../src/sandbox/prepare.ts';

/** Returns a maker of unique specs (`<prefix>-<pid>-<n>`) with the configured default limits. */
export function specMaker(config: AirlockConfig, image: Image, prefix: string): () => SandboxSpec {
  let seq = 0;
  return () => ({ id: `${prefix}-${process.pid}-${seq++}`, image, limits: config.defaults, env: { ...BASE_ENV }, mounts: [], workdir: '/tmp', network: { kind: 'isolated' } });
}

/** create → start /bin/true → drain → exit → destroy. */
export async function driverCycle(driver: IsolationDriver, spec: SandboxSpec): Promise<void> {
  const sandbox = await driver.create(spec);
  try {
    const proc = await sandbox.start({ argv: ['/bin/true'], stdin: false });
    proc.stdout.resume();
    proc.stderr.resume();
    await proc.exit;
  } finally {
    await sandbox.destroy();
  }
}
