/**
 * T2, the allow list, in real sandboxes on every runtime: the calls the old deny list missed
 * (modify_ldt, NUMA placement, memfd_secret, ioprio_set, real-time scheduling, netlink beyond
 * routing, other socket families) are refused, and the work users run (python3 and node: threads,
 * processes, event loops, loopback sockets, mmap, sqlite3, files) keeps running under it.
 */
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { hostArch } from '../../src/isolation/seccomp/arch.ts';
import { ERRNO } from './lib/probes.ts';
import { RUNTIMES, runInSandbox } from './lib/runtime.ts';
import { NEWLY_REFUSED, NODE_WORKLOAD, PYTHON_WORKLOAD, REFUSAL_PROBE, REFUSED_NETLINK, refusalNumbers } from './lib/seccomp-workloads.ts';
import { gapAware, runtimeCase, useSuite } from './lib/suite.ts';

const suite = useSuite();

/** What a forked probe child reported: the errno it exited with (0: the call succeeded). */
interface ChildResult {
  signal: number;
  code: number;
}

// microvm too: the same checks inside its guest.
for (const runtime of [...RUNTIMES, 'microvm'] as const) {
  describe(`${runtime}: seccomp allow list`, () => {
    runtimeCase(suite, runtime, 'T2 calls outside the allow list are refused: NUMA, LDT, scheduling, netlink beyond routing, other socket families', async (t, ready) => {
      const arch = hostArch();
      const r = await runInSandbox(ready, suite.config, ['/usr/bin/python3', '-c', REFUSAL_PROBE, JSON.stringify(refusalNumbers(arch)), JSON.stringify(REFUSED_NETLINK)]);
      assert.equal(r.termination_reason, 'completed', `${r.error ?? ''}\n${r.output}`);
      const line = r.output.split('\n').find((l) => l.startsWith('{'));
      assert.ok(line, `no probe output: ${r.output}`);
      t.diagnostic(line);
      const out = JSON.parse(line) as Record<string, ChildResult | string[]>;
      const child = (name: string): ChildResult => {
        const v = out[name];
        assert.ok(v !== undefined && !Array.isArray(v), `probe printed no "${name}"`);
        return v;
      };
      const eperm = (name: string): void => assert.deepEqual(child(name), { signal: 0, code: ERRNO.EPERM }, `${name} must fail with EPERM`);
      // Calls the old runsc's table lacks never reach its filter by name: its default answers them.
      const unknownToOldRunsc = new Set(['memfd_secret', 'process_madvise', 'statmount', 'listmount']);
      for (const name of NEWLY_REFUSED) {
        if (out[name] === undefined) continue; // not on this architecture (modify_ldt on aarch64)
        if (unknownToOldRunsc.has(name)) await gapAware(t, runtime, `T2:${name}`, () => eperm(name));
        else eperm(name);
      }
      for (const name of Object.keys(REFUSED_NETLINK)) eperm(`netlink_${name}`);
      for (const name of ['af_alg', 'af_packet', 'socketpair_inet']) eperm(name);
      // ENOSYS: openat2's mode can't be inspected, and a number no table knows answers as on an older kernel.
      assert.deepEqual(child('openat2'), { signal: 0, code: ERRNO.ENOSYS }, 'openat2 answers ENOSYS so callers fall back to openat');
      assert.deepEqual(child('unknown_470'), { signal: 0, code: ERRNO.ENOSYS }, 'an unassigned syscall number answers ENOSYS');
      // Controls: what stays allowed really works, so the refusals above are the filter's.
      for (const name of ['ok_netlink_route', 'ok_sched_getparam', 'ok_socketpair_unix']) assert.deepEqual(child(name), { signal: 0, code: 0 }, name);
      assert.ok((out['ok_if_nameindex'] as string[]).includes('lo'), `if_nameindex (NETLINK_ROUTE) works: ${JSON.stringify(out['ok_if_nameindex'])}`);
    });

    runtimeCase(suite, runtime, 'T2 python3 work runs under the allow list: threads, subprocess, asyncio, loopback sockets, mmap, multiprocessing, sqlite3, files', async (t, ready) => {
      const r = await runInSandbox(ready, suite.config, ['/usr/bin/python3', '-c', PYTHON_WORKLOAD], { limits: { timeoutSeconds: 60 } });
      assert.equal(r.termination_reason, 'completed', `${r.error ?? ''}\n${r.output}`);
      assert.equal(r.exit_code, 0, r.output);
      const ok = r.output.split('\n').find((l) => l.startsWith('PY-OK'));
      assert.ok(ok, r.output);
      for (const step of ['threads', 'subprocess', 'asyncio', 'sockets', 'mmap', 'multiprocessing', 'sqlite3', 'files', 'misc']) assert.ok(ok.split(' ').includes(step), `${step} did not run: ${ok}`);
      t.diagnostic(ok);
    });

    runtimeCase(suite, runtime, 'T2 node work runs under the allow list: worker_threads, child_process, fs, http over loopback', async (t, ready) => {
      const r = await runInSandbox(ready, suite.config, ['/usr/bin/node', '-e', NODE_WORKLOAD], { limits: { timeoutSeconds: 60 } });
      assert.equal(r.termination_reason, 'completed', `${r.error ?? ''}\n${r.output}`);
      assert.equal(r.exit_code, 0, r.output);
      const ok = r.output.split('\n').find((l) => l.startsWith('NODE-OK'));
      assert.ok(ok, r.output);
      for (const step of ['worker_threads', 'child_process', 'fs', 'http', 'os']) assert.ok(ok.split(' ').includes(step), `${step} did not run: ${ok}`);
      t.diagnostic(ok);
    });
  });
}
