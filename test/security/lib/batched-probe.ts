/**
 * The batched probe run of escape-probes.test.ts: one sandbox per runtime runs every in-sandbox
 * check, while the host listens on real unix sockets (T14: path and abstract, root and another
 * uid) and watches its own descriptors (T8).
 */
import assert from 'node:assert/strict';
import type { ExecutionResult } from '../../../src/sandbox/result.ts';
import { fdsWithoutCloexec, openFdNumbers } from './fds.ts';
import { startHostSockets } from './host-sockets.ts';
import { parseProbeOutput, type ProbeLine } from './probes.ts';
import { runInSandbox, type TestRuntime } from './runtime.ts';
import type { Ready, Suite } from './suite.ts';

/** Well-known host unix sockets a sandbox must never reach (T14), tried wherever they exist. */
export const HOST_SOCKETS = [
  '/run/docker.sock',
  '/var/run/docker.sock',
  '/run/containerd/containerd.sock',
  '/run/systemd/private',
  '/tmp/.X11-unix/X0',
  '@/tmp/.X11-unix/X0',
];

/** What one batched probe run produced. */
export interface ProbeRun {
  result: ExecutionResult;
  lines: ProbeLine[];
  /**
   * T14: the real host sockets listening during the run (path and abstract, root and another uid),
   * each with the connections it accepted from the sandbox (the host's own check excluded).
   */
  hostSockets: { name: string; owner: string; kind: string; fromSandbox: number }[];
  /** Descriptors the controller opened for the sandbox that lacked close-on-exec. */
  controllerFdsWithoutCloexec: string[];
}

/** Runs the batched probe once per runtime, with a real abstract-socket listener on the host. */
export function probeRunner(s: Suite): (ready: Ready) => Promise<ProbeRun> {
  const runs = new Map<TestRuntime, Promise<ProbeRun>>();
  return (ready) => {
    const runtime = ready.driver.runtime as TestRuntime;
    let run = runs.get(runtime);
    if (run === undefined) {
      run = batchedRun(s, ready);
      runs.set(runtime, run);
    }
    return run;
  };
}

async function batchedRun(s: Suite, ready: Ready): Promise<ProbeRun> {
  const kit = s.kit();
  const listening = await startHostSockets();
  const hostChecks = new Map(listening.sockets.map((h) => [h.name, h.connections()]));
  const before = openFdNumbers();
  let controllerFdsWithoutCloexec: string[] | undefined;
  try {
    // The probe is told every name to try: the well-known ones and the four listening now.
    const unixArgs = [...HOST_SOCKETS, ...listening.sockets.map((h) => h.name)].flatMap((p) => ['--unix', p]);
    const result = await runInSandbox(ready, s.config, [kit.probe, 'checks', '--suid', kit.suidHelper, ...unixArgs], {
      mounts: [kit.mount],
      // While the sandbox runs, every descriptor the controller opened for it must be close-on-exec.
      onStdout: () => {
        controllerFdsWithoutCloexec ??= fdsWithoutCloexec(before);
      },
    });
    const hostSockets = listening.sockets.map((h) => ({ name: h.name, owner: h.owner, kind: h.kind, fromSandbox: h.connections() - (hostChecks.get(h.name) ?? 0) }));
    return { result, lines: parseProbeOutput(result.output), hostSockets, controllerFdsWithoutCloexec: controllerFdsWithoutCloexec ?? [] };
  } finally {
    await listening.close();
  }
}

/** The probe's lines, after checking the run completed (every check printed). */
export async function completed(run: Promise<ProbeRun>): Promise<ProbeRun> {
  const r = await run;
  const done = r.lines.some((l) => l.check === 'done');
  assert.ok(done, `probe did not finish: termination ${r.result.termination_reason}, exit ${r.result.exit_code}, error: ${r.result.error ?? ''}\n${r.result.output.slice(-2000)}`);
  return r;
}
