/**
 * T13 symlink racer: a worker thread that keeps swapping a granted path (or one of its parents)
 * for a symlink while sandboxes start. It runs on its own thread because the controller pins
 * grants with synchronous calls, which a racer on the event loop could never interleave with.
 */
import { Worker } from 'node:worker_threads';

/** What the racer swaps. */
export type RaceMode =
  /** `path` (a directory) <-> a symlink to `target`. */
  | { kind: 'swap-dir'; path: string; target: string }
  /** `path` (a symlink) is retargeted between `a` and `b`, atomically (rename over it). */
  | { kind: 'retarget'; path: string; a: string; b: string };

const RACER = `
const { renameSync, symlinkSync, unlinkSync, lstatSync, rmSync } = require('node:fs');
const { workerData, parentPort } = require('node:worker_threads');
const { mode, flag } = workerData;
const stop = new Int32Array(flag);
const saved = mode.path + '.orig';
const tmp = mode.path + '.tmp';
let swaps = 0;
let failures = 0;
function isLink(p) { try { return lstatSync(p).isSymbolicLink(); } catch { return false; } }
while (Atomics.load(stop, 0) === 0) {
  try {
    if (mode.kind === 'swap-dir') {
      renameSync(mode.path, saved);
      symlinkSync(mode.target, mode.path);
      // Leave the link in place for a moment too, so that starts do meet it (and are refused).
      Atomics.wait(stop, 0, 0, 1);
      unlinkSync(mode.path);
      renameSync(saved, mode.path);
      // Leave the real directory in place for a moment, so some starts do get it.
      Atomics.wait(stop, 0, 0, 1);
    } else {
      symlinkSync(mode.b, tmp);
      renameSync(tmp, mode.path);
      symlinkSync(mode.a, tmp);
      renameSync(tmp, mode.path);
    }
    swaps++;
    // Readiness: the race is on once one full swap has happened.
    if (swaps === 1) parentPort.postMessage({ ready: true });
  } catch (err) {
    // A racer that never manages one swap fails (and its readiness with it) instead of racing nothing.
    if (swaps === 0 && ++failures >= 1000) throw err;
    // Otherwise keep going; a failed step is repaired below.
  }
}
// Leave the original state behind: the real directory, or the symlink to a.
if (mode.kind === 'swap-dir') {
  if (isLink(mode.path)) unlinkSync(mode.path);
  try { lstatSync(saved); renameSync(saved, mode.path); } catch {}
} else {
  rmSync(tmp, { force: true });
  symlinkSync(mode.a, tmp);
  renameSync(tmp, mode.path);
}
parentPort.postMessage({ swaps });
`;

/** A running racer; `stop()` restores the original state and returns how many swaps it made. */
export interface Racer {
  /** Resolves once the racer has made its first swap (rejects if it can't): start racing after it. */
  ready: Promise<void>;
  stop(): Promise<number>;
}

/** Starts swapping in a worker thread. */
export function startRacer(mode: RaceMode): Racer {
  const flag = new SharedArrayBuffer(4);
  const worker = new Worker(RACER, { eval: true, workerData: { mode, flag } });
  let onReady: () => void = () => undefined;
  let onSwaps: (n: number) => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const swaps = new Promise<number>((resolve) => (onSwaps = resolve));
  const failed = new Promise<never>((_resolve, reject) => worker.once('error', reject));
  // Handled here too: a failure is reported by whichever of ready/stop is awaited.
  failed.catch(() => undefined);
  worker.on('message', (message: { ready?: true; swaps?: number }) => {
    if (message.ready === true) onReady();
    if (message.swaps !== undefined) onSwaps(message.swaps);
  });
  return {
    ready: Promise.race([ready, failed]),
    async stop() {
      Atomics.store(new Int32Array(flag), 0, 1);
      const n = await Promise.race([swaps, failed]);
      await worker.terminate();
      return n;
    },
  };
}
