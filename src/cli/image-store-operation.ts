/**
 * What the commands that write the image store share: they run as root, and a long one (`image
 * import`, `image pull`) shows progress on a terminal and is cancelled by SIGINT/SIGTERM, removing
 * its work directories before the process ends.
 */
import type { terminalProgress as terminalProgressType } from '../images/registry/progress.ts';

/** Refuses to go on unless root. Why: the store is root-owned and an image's files must be created root-owned. */
export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) throw new Error(`image ${what} must run as root (the image store is root-owned)`);
}

/** Progress on stderr when it is a terminal (images/registry/progress.ts). */
export type StoreProgress = NonNullable<ReturnType<typeof terminalProgressType>>;

/**
 * Runs `operation` with an abort signal that SIGINT and SIGTERM fire, and the terminal's progress
 * line. Resolves with its result, or undefined when a signal interrupted it: then "airlock: image
 * WHAT interrupted; nothing was stored" is on stderr and the exit code is 130.
 */
export async function interruptibleStoreOperation<T>(what: string, operation: (signal: AbortSignal, progress: StoreProgress | undefined) => Promise<T>): Promise<T | undefined> {
  const { terminalProgress } = await import('../images/registry/progress.ts');
  const progress = terminalProgress(process.stderr);
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await operation(abort.signal, progress);
  } catch (err) {
    if (!abort.signal.aborted) throw err;
    process.stderr.write(`airlock: image ${what} interrupted; nothing was stored\n`);
    process.exitCode = 130;
    return undefined;
  } finally {
    progress?.done();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
