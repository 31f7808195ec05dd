/**
 * The batched probe run of escape-probes.test.ts: one sandbox per runtime runs every in-sandbox
 * check, while the host listens on a real abstract unix socket (T14) and watches its own
 * descriptors (T8).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import type { ExecutionResult } from '../../../src/sandbox/result.ts';
import { fdsWithoutCloexec, openFdNumbers } from './fds.ts';
import { parseProbeOutput, type ProbeLine } from './probes.ts';
import { runInSandbox, type TestRuntime } from './runtime.ts';
import type { Ready, Suite } from './suite.ts';

/** Host unix sockets a sandbox must never reach (T14). */
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
  /** The abstract socket the host listened on during the run, and how many connections it got. */
  abstractName: string;
  abstractConnections: number;
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
  const abstractName = `airlock-test-${randomBytes(8).toString('hex')}`;
  let abstractConnections = 0;
  const server: Server = createServer((socket) => {
    abstractConnections++;
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(`\0${abstractName}`, resolve);
  });
  const before = openFdNumbers();
  let controllerFdsWithoutCloexec: string[] | undefined;
  try {
    const unixArgs = [...HOST_SOCKETS, `@${abstractName}`].flatMap((p) => ['--unix', p]);
    const result = await runInSandbox(ready, s.config, [kit.probe, 'checks', '--suid', kit.suidHelper, ...unixArgs], {
      mounts: [kit.mount],
      // While the sandbox runs, every descriptor the controller opened for it must be close-on-exec.
      onStdout: () => {
        controllerFdsWithoutCloexec ??= fdsWithoutCloexec(before);
      },
    });
    return { result, lines: parseProbeOutput(result.output), abstractName, abstractConnections, controllerFdsWithoutCloexec: controllerFdsWithoutCloexec ?? [] };
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** The probe's lines, after checking the run completed (every check printed). */
export async function completed(run: Promise<ProbeRun>): Promise<ProbeRun> {
  const r = await run;
  const done = r.lines.some((l) => l.check === 'done');
  assert.ok(done, `probe did not finish: termination ${r.result.termination_reason}, exit ${r.result.exit_code}, error: ${r.result.error ?? ''}\n${r.result.output.slice(-2000)}`);
  return r;
}
