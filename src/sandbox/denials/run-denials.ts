/**
 * The seccomp denials of one run: an audit login uid for its sandbox, live responses as denials
 * arrive, and, once the sandbox has ended, its SECCOMP violations with every denial counted.
 */
import type { RuntimeName, SandboxSpec } from '../../isolation/driver.ts';
import type { SecurityViolation } from '../result.ts';
import { pathPatternOf, patternOf } from './patterns.ts';
import { responseFor, type ResponsePolicy, type ViolationResponse } from './response.ts';
import type { Denial } from './line.ts';
import { DenialTally } from './tally.ts';
import { describe, ProbeTally } from './probe-tally.ts';
import type { Severity } from '../result.ts';
import type { DenialWatch } from './watch.ts';

/** What a run needs from the denial watch. */
export interface RunDenials {
  /** Set on the sandbox spec (`SandboxSpec.denialAuid`). */
  readonly auid: number;
  /** Waits until every denial made so far was read, stops attributing, returns the violations. */
  collect(): Promise<SecurityViolation[]>;
  /** The violations counted so far (a live view: no barrier). */
  current(): SecurityViolation[];
  /** Stops attributing (a run that never started); a no-op after collect. */
  release(): void;
}

/**
 * Denial reporting as the service hands it to a run or a persistent sandbox: the controller's
 * watch, the response per severity, and the revocation a `kill_and_revoke` response calls.
 */
export interface DenialReporting {
  /** The host audit reader namespace sandboxes need (gVisor's kernel reports its own denials). */
  watch?: DenialWatch;
  policy?: ResponsePolicy;
  revoke?: (sandboxId: string, reason: string) => void;
  /**
   * Namespace sandboxes: watch writes to /proc/sys, /sys, /dev, /boot and runtime-socket probes
   * (agent --watch-writes; `violations.watchWrites`). Default on.
   */
  watchWrites?: boolean;
}

/** Options of one run's denials. */
export interface RunDenialsOptions {
  policy?: ResponsePolicy;
  /**
   * Called once, at the first denial or probe whose severity calls for more than recording, with
   * what was attempted in words ("seccomp denied unshare", "write to /proc/sys/kernel/core_pattern").
   */
  onResponse?: (response: Exclude<ViolationResponse, 'record'>, what: string) => void;
}

/** Registers a new sandbox with the watch. */
export function openRunDenials(watch: DenialWatch, sandboxId: string, options: RunDenialsOptions = {}): RunDenials {
  const auid = watch.allocateAuid();
  const tally: DenialTally = watch.register(sandboxId, { auid }, responder(options));
  return {
    auid,
    async collect() {
      let incomplete: string | undefined;
      try {
        await watch.sync();
      } catch (err) {
        incomplete = (err as Error).message;
      } finally {
        watch.unregister({ auid });
      }
      const out = tally.violations();
      // Why say so: a report that may miss denials must not read as a complete one.
      if (incomplete !== undefined) for (const v of out) v.indicators['incomplete'] = incomplete;
      return out;
    },
    current() {
      return tally.violations();
    },
    release() {
      watch.unregister({ auid });
    },
  };
}

/** Calls `options.onResponse` once, at the first denial whose severity calls for more than recording. */
function responder(options: RunDenialsOptions): (denial: Denial) => void {
  const respond = severityResponder(options);
  return (denial) => respond(patternOf(denial.syscall).severity, () => `seccomp denied ${denial.syscall}`);
}

/** The same once-only response, by severity; `what` is worded only when a response is due. */
function severityResponder(options: RunDenialsOptions): (severity: Severity, what: () => string) => void {
  let responded = false;
  return (severity, what) => {
    if (responded || options.onResponse === undefined) return;
    const response = responseFor(severity, options.policy);
    if (response === 'record') return;
    responded = true;
    options.onResponse(response, what());
  };
}

/** `options` whose onResponse is called at most once, however many responders share them. */
function onceOnly(options: RunDenialsOptions): RunDenialsOptions {
  const onResponse = options.onResponse;
  if (onResponse === undefined) return options;
  let responded = false;
  return {
    ...options,
    onResponse: (response, what) => {
      if (responded) return;
      responded = true;
      onResponse(response, what);
    },
  };
}

/**
 * A namespace sandbox's writes and socket probes on watched paths (agent --watch-writes), added
 * to `run`'s violations: the driver reports each (`onPathProbe`) as the supervisor's line is read,
 * and has read them all when the sandbox's exit is known, before `collect`.
 */
function withPathProbes(run: RunDenials, options: RunDenialsOptions): { run: RunDenials; onPathProbe: NonNullable<DenialSpec['onPathProbe']> } {
  const tally = new ProbeTally();
  const respond = severityResponder(options);
  let open = true;
  return {
    onPathProbe(probe) {
      if (!open) return;
      tally.add(probe);
      respond(pathPatternOf(probe.pattern).severity, () => `${describe(probe.pattern, probe.syscall)} ${probe.path} (${probe.pattern})`);
    },
    run: {
      auid: run.auid,
      async collect() {
        const denied = await run.collect();
        open = false;
        return [...denied, ...tally.violations()];
      },
      current: () => [...run.current(), ...tally.violations()],
      release() {
        open = false;
        run.release();
      },
    },
  };
}

/**
 * The denials of a sandbox whose own kernel enforces its profile (gVisor): the driver reports
 * each one (`add`) as the sandbox kernel logs it; counted, patterned and answered like the host's.
 */
export function openSandboxKernelDenials(options: RunDenialsOptions = {}): { run: RunDenials; add: (denial: Denial) => void } {
  const tally = new DenialTally();
  const respond = responder(options);
  let open = true;
  return {
    add(denial) {
      if (!open) return;
      tally.add(denial);
      respond(denial);
    },
    run: {
      // No audit login uid: the host kernel never sees these calls.
      auid: -1,
      async collect() {
        // The driver has read its kernel's log to the end before the sandbox's final stats.
        open = false;
        return tally.violations();
      },
      current: () => tally.violations(),
      release() {
        open = false;
      },
    },
  };
}

/** What a sandbox spec carries for its runtime's denial reporting. */
export type DenialSpec = Pick<SandboxSpec, 'denialAuid' | 'onSeccompDenial' | 'onPathProbe'>;

/**
 * A sandbox's denials for its runtime: namespace denials come from the host kernel's audit (the
 * controller's watch, by audit login uid); gVisor's from its own kernel's log, a microvm's from
 * its guest's audit, which each driver reads and reports through `onSeccompDenial`. One tally, pattern table and response for both.
 */
export function openDenials(reporting: DenialReporting, runtime: RuntimeName, sandboxId: string, options: RunDenialsOptions): { run: RunDenials; spec: DenialSpec } {
  // Why per runtime: gVisor's Sentry enforces its own profile, so the host kernel never sees those calls;
  // nor those a microvm guest's kernel refuses (its init reads them and sends them over the channel).
  if (runtime === 'gvisor' || runtime === 'microvm') {
    const local = openSandboxKernelDenials(options);
    let serial = 0;
    const onSeccompDenial: NonNullable<DenialSpec['onSeccompDenial']> = (d) =>
      local.add({ serial: ++serial, pid: d.pid, syscallNr: d.syscallNr, syscall: d.syscall, arch: process.arch, code: 'sandbox-kernel', auid: -1, cgroup: undefined, comm: '' });
    return { run: local.run, spec: { onSeccompDenial } };
  }
  // Fail closed: a namespace sandbox whose denials nobody would read doesn't start.
  if (reporting.watch === undefined) throw new Error('seccomp denial reporting: the host audit reader is not running');
  if (reporting.watchWrites === false) {
    const run = openRunDenials(reporting.watch, sandboxId, options);
    return { run, spec: { denialAuid: run.auid } };
  }
  // One response for the sandbox, whichever of denials and probes calls for it first.
  const shared = onceOnly(options);
  const run = openRunDenials(reporting.watch, sandboxId, shared);
  const watched = withPathProbes(run, shared);
  return { run: watched.run, spec: { denialAuid: run.auid, onPathProbe: watched.onPathProbe } };
}
