/**
 * Controller-side views of running sandboxes:
 * - T1 (host side): the host uid a sandbox really runs as. This is the authoritative identity
 *   check: inside a namespace sandbox /proc/self/uid_map reads "65534 0 1", because bubblewrap
 *   nests two user namespaces (the outer one maps 0 to the unprivileged host uid), so only the
 *   host's view of the sandbox processes says which host uid they are.
 * - T16: two concurrent sandboxes can't see, signal, trace or read each other.
 */
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { ERRNO, lineOf, linesOf, parseProbeOutput } from './lib/probes.ts';
import { NAMESPACE_KINDS, namespacesOf, processTable, sandboxCgroupPids, statusOf, uidMapOf, type HostProcess } from './lib/host.ts';
import { startHolder } from './lib/holder.ts';
import { RUNTIMES, runInSandbox, type SuiteRuntime } from './lib/runtime.ts';
import { QEMU_BINARY } from '../../src/isolation/microvm/qemu.ts';
import { knownGap } from './lib/known-gaps.ts';
import { gapAware, runtimeCase, useSuite } from './lib/suite.ts';

const suite = useSuite();

/** The runtimes of this file: on microvm the host process that runs the guest is QEMU. */
const PROCESS_RUNTIMES = [...RUNTIMES, 'microvm'] as const;

/** A process name of at most 15 characters (the kernel's comm limit). */
function newMarker(): string {
  return `al${randomBytes(6).toString('hex')}`;
}

/** Names of the sandbox cgroups under this suite's parent right now. */
function sandboxCgroups(): Set<string> {
  return new Set(sandboxCgroupPids(suite.config).keys());
}

/** Host processes of the one sandbox whose cgroup appeared since `before`. */
function newSandboxProcesses(before: Set<string>): HostProcess[] {
  const fresh = [...sandboxCgroupPids(suite.config)].filter(([name]) => !before.has(name));
  assert.equal(fresh.length, 1, `expected one new sandbox cgroup, found ${fresh.length}`);
  const pids = new Set(fresh[0]?.[1]);
  const procs = processTable().filter((p) => pids.has(p.pid));
  assert.ok(procs.length > 0, 'the sandbox cgroup holds no process');
  return procs;
}

/**
 * Processes of a sandbox that run as host root by design and execute none of its code: gVisor's
 * gofer (the runtime's file proxy, argv[0] `runsc-gofer`), and on microvm bubblewrap's two
 * processes above the VMM (it builds the VMM's mounts without a user namespace, then only waits;
 * T1 checks they hold no capability). Every other process of a sandbox must not run as root.
 */
function isRootByDesign(runtime: SuiteRuntime, p: HostProcess): boolean {
  return (runtime === 'gvisor' && p.cmdline[0] === 'runsc-gofer') || (runtime === 'microvm' && p.cmdline[0]?.endsWith('/bwrap') === true);
}

/** The host process that runs the workload's code: the probe itself, gVisor's sandbox kernel, or the VMM running the guest. */
function codeRunner(runtime: SuiteRuntime, procs: HostProcess[], marker: string): HostProcess {
  const runner = runtime === 'namespace' ? procs.find((p) => p.comm === marker) : runtime === 'gvisor' ? procs.find((p) => p.cmdline[0] === 'runsc-sandbox') : procs.find((p) => p.cmdline[0] === QEMU_BINARY);
  assert.ok(runner !== undefined, `no host process runs the sandbox's code: ${procs.map((p) => p.cmdline[0] ?? p.comm).join(', ')}`);
  return runner;
}

/** Host uids of each sandbox started since `before` (the root processes of isRootByDesign left out). */
function hostUidsPerSandbox(runtime: SuiteRuntime, before: Set<string>): number[][] {
  const table = processTable();
  const fresh = [...sandboxCgroupPids(suite.config)].filter(([name]) => !before.has(name)).map(([, pids]) => pids);
  return fresh.map((pids) => [
    ...new Set(table.filter((p) => pids.includes(p.pid) && !isRootByDesign(runtime, p)).flatMap((p) => p.uids)),
  ]);
}

for (const runtime of PROCESS_RUNTIMES) {
  describe(`${runtime}: controller-side process checks`, () => {
    runtimeCase(suite, runtime, 'T1 identity (host side): sandbox processes run as a non-zero host uid; uid_map maps to it', async (t, ready) => {
      const kit = suite.kit();
      const before = sandboxCgroups();
      const holder = startHolder(ready, suite.config, kit, newMarker());
      try {
        await holder.ready;
        const procs = newSandboxProcesses(before);
        for (const p of procs) {
          t.diagnostic(`pid ${p.pid} uid ${p.uids.join('/')} ${p.cmdline[0] ?? p.comm}`);
          if (isRootByDesign(runtime, p) && runtime === 'microvm') {
            const status = statusOf(p.pid);
            assert.match(status.get('CapEff') ?? '', /^0+$/, `bubblewrap above the VMM (pid ${p.pid}) holds capabilities`);
            assert.equal(status.get('NoNewPrivs'), '1', `bubblewrap above the VMM (pid ${p.pid}) may gain privileges`);
          }
          if (isRootByDesign(runtime, p)) continue;
          assert.ok(p.uids.every((u) => u !== 0), `host process ${p.pid} (${p.comm}) of the sandbox runs as root: ${p.uids.join('/')}`);
          const gids = (statusOf(p.pid).get('Gid') ?? '').split(/\s+/).map(Number);
          assert.ok(gids.every((g) => g !== 0), `host process ${p.pid} (${p.comm}) has gid 0: ${gids.join('/')}`);
        }
        const runner = codeRunner(runtime, procs, holder.marker);
        if (runtime !== 'gvisor') {
          const uid = runner.uids[0] ?? 0;
          const { hostUidBase, hostUidCount } = suite.config;
          assert.ok(uid >= hostUidBase && uid < hostUidBase + hostUidCount, `host uid ${uid} is outside the sandbox uid range`);
        }
        // QEMU runs in the host's user namespace as the leased uid itself (checked above), with no
        // capabilities: its identity map has nothing to show. The workload's uid 65534 is the guest kernel's.
        for (const which of runtime === 'microvm' ? [] : (['uid_map', 'gid_map'] as const)) {
          const map = uidMapOf(runner.pid, which);
          t.diagnostic(`${which} of pid ${runner.pid} read from the host: ${JSON.stringify(map)}`);
          assert.ok(map.length > 0, `${which} of ${runner.pid} is empty`);
          for (const m of map) {
            // Host id 0 anywhere in the map would make some sandbox id host root.
            assert.ok(m.outside !== 0, `${which} maps sandbox id ${m.inside} to host root`);
          }
          if (runtime === 'namespace') {
            const own = map.find((m) => m.inside <= 65534 && 65534 < m.inside + m.count);
            assert.ok(own !== undefined, `${which} does not map 65534`);
            assert.equal(own.outside + (65534 - own.inside), runner.uids[0], `${which} maps 65534 to the process's host uid`);
          }
        }
      } finally {
        await holder.release();
      }
    });

    runtimeCase(suite, runtime, 'T20 namespaces (host side): the process running sandbox code is in none of the host namespaces', async (t, ready) => {
      const before = sandboxCgroups();
      const holder = startHolder(ready, suite.config, suite.kit(), newMarker());
      try {
        await holder.ready;
        const runner = codeRunner(runtime, newSandboxProcesses(before), holder.marker);
        const host = namespacesOf('self');
        const inside = namespacesOf(runner.pid);
        for (const kind of NAMESPACE_KINDS) {
          t.diagnostic(`${kind}: sandbox ${inside[kind] ?? '(none)'} host ${host[kind] ?? '(none)'}`);
          assert.ok(host[kind] !== undefined && inside[kind] !== undefined, `${kind} namespace link unreadable`);
        }
        // Each kind on its own: a documented gap on one (gVisor: pid, cgroup) never hides another.
        const gapped = NAMESPACE_KINDS.filter((kind) => knownGap(`T20host:${kind}`, runtime) !== undefined);
        const shared = NAMESPACE_KINDS.filter((kind) => !gapped.includes(kind) && inside[kind] === host[kind]);
        assert.deepEqual(shared, [], `pid ${runner.pid} (${runner.cmdline[0] ?? runner.comm}) shares these host namespaces`);
        for (const kind of gapped) {
          await gapAware(t, runtime, `T20host:${kind}`, () => assert.notEqual(inside[kind], host[kind], `pid ${runner.pid} (${runner.cmdline[0] ?? runner.comm}) is in the host's ${kind} namespace`));
        }
      } finally {
        await holder.release();
      }
    });

    runtimeCase(suite, runtime, 'T16 cross-sandbox: B cannot see, signal, trace or read A', async (t, ready) => {
      const kit = suite.kit();
      const before = sandboxCgroups();
      const holder = startHolder(ready, suite.config, kit, newMarker());
      try {
        await holder.ready;
        const aProcs = newSandboxProcesses(before);
        const aPids = aProcs.map((p) => p.pid);
        let uidsWhileBoth: number[][] | undefined;
        // B waits on its stdin after its checks, so both sandboxes are live when their host uids are read.
        const bStdin = new PassThrough();
        let bOut = '';
        const b = await runInSandbox(ready, suite.config, [kit.probe, 'cross', holder.marker, ...aPids.map(String)], {
          mounts: [kit.mount],
          stdin: bStdin,
          onStdout: (chunk) => {
            bOut += chunk.toString('utf8');
            if (uidsWhileBoth === undefined && bOut.includes('"check":"done"')) {
              uidsWhileBoth = hostUidsPerSandbox(runtime, before);
              bStdin.end();
            }
          },
        });
        const lines = parseProbeOutput(b.output);
        assert.ok(lines.some((l) => l.check === 'done'), `B did not finish: ${b.termination_reason} ${b.error ?? ''}`);
        const visible = linesOf(lines, 'visible_process');
        assert.ok(visible.length > 0, 'B sees at least itself in /proc');
        assert.deepEqual(visible.filter((l) => l.comm === holder.marker), [], "B sees A's process");
        const reads = linesOf(lines, 'read_neighbour_file').filter((l) => l.ret !== -1);
        assert.deepEqual(reads, [], "B read A's /tmp file");
        for (const pid of aPids) {
          if (lineOf(lines, 'hostpid_local', { pid }).exists_here === 1) {
            // The number names one of B's own processes in B's pid namespace: not A, nothing to test.
            t.diagnostic(`host pid ${pid} of A collides with a pid inside B; skipped`);
            continue;
          }
          const kill = lineOf(lines, 'kill_hostpid', { pid });
          assert.equal(kill.ret, -1, `B signalled A's host pid ${pid}`);
          assert.equal(kill.errno, ERRNO.ESRCH, `kill(${pid}, 0) from B must be ESRCH: ${JSON.stringify(kill)}`);
        }
        const traces = linesOf(lines, 'ptrace_attach_hostpid').filter((l) => l.ret !== -1);
        assert.deepEqual(traces, [], "B attached to A's process");
        t.diagnostic(`host uids of A and B while both ran: ${JSON.stringify(uidsWhileBoth)}`);
        if (runtime !== 'gvisor') {
          // Each live namespace sandbox (or VMM) has its own host uid, so the kernel's own checks keep them apart.
          const [ua, ub] = uidsWhileBoth ?? [];
          assert.ok(ua !== undefined && ub !== undefined, 'both sandboxes were live while B ran');
          assert.deepEqual(ua.filter((u) => ub.includes(u)), [], 'A and B share a host uid');
        }
      } finally {
        const a = await holder.release();
        const end = lineOf(parseProbeOutput(a.output), 'hold_end');
        assert.equal(end.file, `secret-of-${holder.marker}`, "A's file was changed while B ran");
        assert.equal(a.termination_reason, 'completed', `A was disturbed: ${a.termination_reason} ${a.error ?? ''}`);
      }
    });
  });
}
