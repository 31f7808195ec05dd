/**
 * Forensic capture on every runtime, through the real service and real sandboxes: a running
 * workload is frozen and captured into a signed bundle (its processes and command lines, the
 * file it dropped in scratch, its memory where the runtime allows, its audit receipts); the
 * bundle verifies and each kind of tampering is named; retention keeps the newest; after the
 * capture the sandbox is killed or resumed as configured.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { unzipSync, zipSync } from 'fflate';
import { SandboxService } from '../../src/sandbox/service.ts';
import { policyDirOf, readBundleHash } from '../../src/policy/bundle-files.ts';
import type { ExecSession } from '../../src/sandbox/service-types.ts';
import { tempAuditLog, sampleEvent } from '../../src/audit/test-audit.ts';
import { verifyBundle } from '../../src/forensics/bundle.ts';
import { captureServiceSandbox, forensicsDir, forensicTrigger } from '../../src/forensics/service-capture.ts';
import type { SecurityViolation } from '../../src/sandbox/result.ts';
import { verifyReceipt } from '../../src/audit/receipt.ts';
import { skipReason } from '../integration/environment.ts';
import { isolatedConfig, removeIsolatedState } from './lib/runtime.ts';

const base = isolatedConfig();
const config = { ...base, forensics: { ...base.forensics, maxBundles: 2, memoryDumpMb: 64, scratchCopyMb: 1 } };
/** A guest's RAM holds its kernel and page cache too: its non-zero pages need a larger bound. */
const configFor = (runtime: string) => (runtime === 'microvm' ? { ...config, forensics: { ...config.forensics, memoryDumpMb: 1024 } } : config);
const policyBundleHash = await readBundleHash(policyDirOf(config.policy));
const reason = skipReason(config);
after(() => {
  const problems = removeIsolatedState(config);
  if (problems.length > 0) process.stderr.write(`forensics test cleanup: ${problems.join('; ')}\n`);
});

/** Built at run time, so the marker is in the workload's heap but in no argv or file. */
const WORKLOAD = String.raw`
import time, sys
m = ''.join(reversed('KRAM-CISNEROF')) * 2000
print('ready', len(m), flush=True)
time.sleep(300)
`;
const MARK = 'FORENSIC-MARK';

/** Starts the workload; resolves once it runs (its first output), with its session. */
async function startWorkload(service: SandboxService, id: string): Promise<ExecSession> {
  const session = await service.exec(id, { code: WORKLOAD, language: 'python', env: {}, stdin: false, timeoutMs: 120_000 });
  await new Promise<void>((resolve) => session.onStdout((c) => c.toString().includes('ready') && resolve()));
  return session;
}

for (const runtime of ['namespace', 'gvisor', 'microvm'] as const) {
  describe(`${runtime}: forensic capture`, { skip: reason(runtime) }, () => {
    const config = configFor(runtime);
    const service = new SandboxService({ config, policyBundleHash });
    before(() => service.start().then(() => undefined));
    after(() => service.shutdown());

    test('a frozen capture holds processes, the dropped file, memory, audit receipts; verifies; tampering is named; killed after', async (t) => {
      const audit = await tempAuditLog(t);
      const info = await service.create({ runtime, limits: {}, metadata: {}, env: {}, mounts: [], agentId: 'forensics-test' });
      const id = info.sandbox_id;
      await audit.log.append(sampleEvent(1, 'forensics-test', id));
      const drop = await service.exec(id, { argv: ['sh', '-c', 'printf "#!/bin/sh\\necho pwned\\n" > /tmp/dropper.sh'], env: {}, stdin: false, timeoutMs: 20_000 });
      assert.equal((await drop.result).exit_code, 0);
      const session = await startWorkload(service, id);
      const relative = service.forensicAccess(id)?.cgroup.relativePath ?? '';
      const freezerParent = `/sys/fs/cgroup/freezer/${relative.split('/')[0] ?? ''}`;
      const parentBefore = existsSync(freezerParent);
      const result = await captureServiceSandbox({ service, config, controllerKey: audit.privateKey, audit: audit.log }, id, 'on demand');
      if (runtime === 'gvisor') assert.equal(result.frozen, 'runsc-pause');
      assert.ok(result.frozen !== null, 'the sandbox was frozen');
      assert.match(result.path, new RegExp(`/agent-${id}-\\d{8}T\\d{9}Z\\.zip$`));
      assert.ok(result.path.startsWith(forensicsDir(config)));
      await session.result;
      assert.equal(service.get(id).state, 'ended', 'killed after capture (forensics.after = kill)');
      // No freezer cgroup (nor parent) left behind by a v1 freeze.
      assert.equal(existsSync(`/sys/fs/cgroup/freezer/${relative}`), false);
      assert.equal(existsSync(freezerParent), parentBefore, 'a freezer parent made for the capture is removed with it');

      const zip = readFileSync(result.path);
      const check = verifyBundle(zip, audit.publicKey);
      assert.ok(check.ok, check.ok ? '' : check.problems.join('; '));
      const files = unzipSync(zip);
      const text = (name: string): string => Buffer.from(files[name] ?? Buffer.alloc(0)).toString();
      if (runtime === 'microvm') {
        // The host sees the VMM; the guest's processes and its scratch tmpfs are in the guest's RAM.
        assert.match(text('processes/host.json'), /qemu-system/);
        assert.match(text('processes/guest.unavailable.txt'), /known only to its own kernel/);
        assert.match(text('scratch/unavailable.txt'), /in the guest's own RAM/);
        const ram = Buffer.from(files['memory/guest-ram.dump'] ?? Buffer.alloc(0));
        const index = JSON.parse(text('memory/guest-ram.dump.json')) as { ram_bytes: number; zero_pages: number; truncated?: string; ranges: { offset: number; length: number }[] };
        assert.equal(index.truncated, undefined, 'the whole RAM was within the bound');
        assert.equal(index.ram_bytes, index.zero_pages * 4096 + ram.length, 'every page is either in the dump or counted as zero');
        assert.equal(index.ranges.reduce((n, r) => n + r.length, 0), ram.length);
        t.diagnostic(`guest RAM: ${ram.length} bytes kept in ${index.ranges.length} runs, ${index.zero_pages} zero pages left out, bundle ${zip.length} bytes`);
        assert.ok(ram.includes(MARK), "the workload's heap (with its marker) is in the guest's RAM");
        assert.ok(ram.includes('#!/bin/sh\necho pwned\n'), 'the dropped file is in the guest RAM (its scratch tmpfs)');
      } else {
        // Processes: read from the host through the cgroup; under gVisor the guest's list comes from runsc ps.
        const procs = runtime === 'gvisor' ? text('processes/sandbox.txt') : text('processes/host.json');
        assert.match(procs, /python3?/, 'the workload is in the process list');
        // The dropped file: added against the image manifest, with its bytes.
        const changes = JSON.parse(text('scratch/changes.json')) as { changes: { change: string; path: string; copied?: boolean }[] };
        const dropped = changes.changes.find((c) => c.path === '/tmp/dropper.sh');
        assert.ok(dropped !== undefined, text('scratch/changes.json'));
        assert.equal(dropped.change, 'added');
        assert.equal(dropped.copied, true);
        assert.equal(text('scratch/files/dropper.sh'), '#!/bin/sh\necho pwned\n');
      }
      assert.match(text('sandbox.json'), new RegExp(id));
      assert.match(text('sandbox.json'), /"policy_hash": "[0-9a-f]{64}"|"policy_hash": "sha256:/);
      // Audit records come with inclusion proofs that check against the controller key.
      const receipts = JSON.parse(text('audit/receipts.json')) as unknown[];
      assert.equal(receipts.length, 1);
      assert.deepEqual(verifyReceipt(receipts[0], audit.publicKey).ok, true);
      if (runtime === 'namespace') {
        const dumps = Object.keys(files).filter((n) => n.endsWith('.dump'));
        assert.equal(dumps.length, 1, 'one memory dump, of the main process');
        assert.ok(Buffer.from(files[dumps[0] as string] as Uint8Array).includes(MARK), 'the workload heap (with its marker) is in the dump');
        assert.ok(Object.keys(files).some((n) => n.endsWith('.maps')), 'memory maps of the processes');
      } else if (runtime === 'gvisor') {
        assert.equal(text('memory/checkpoint.unavailable.txt'), '', 'no reason to give: a checkpoint was taken');
        assert.ok((files['memory/checkpoint/checkpoint.img']?.length ?? 0) > 0, 'runsc checkpoint image of the paused sandbox');
      }

      // Tampering: each kind is named.
      const tampered = (change: (f: Record<string, Uint8Array>) => void): string => {
        const f = unzipSync(zip);
        change(f);
        const c = verifyBundle(zipSync(f), audit.publicKey);
        return c.ok ? 'ok' : c.problems.join('; ');
      };
      const evidence = runtime === 'microvm' ? 'memory/guest-ram.dump' : 'scratch/files/dropper.sh';
      assert.match(tampered((f) => void (f[evidence] = Buffer.from('benign\n'))), new RegExp(`${evidence}: changed`));
      assert.match(tampered((f) => delete f['processes/host.json']), /processes\/host.json: removed/);
      assert.match(tampered((f) => void (f['planted.txt'] = Buffer.from('x'))), /planted.txt: added/);
      assert.match(tampered((f) => void (f['MANIFEST.sig'] = Buffer.from(`${Buffer.alloc(64).toString('base64')}\n`))), /not signed by this controller key/);
    });

    test('after = resume: the sandbox runs on after capture; retention keeps the newest bundles', async (t) => {
      const audit = await tempAuditLog(t);
      const resume = { ...config, forensics: { ...config.forensics, after: 'resume' as const } };
      const info = await service.create({ runtime, limits: {}, metadata: {}, env: {}, mounts: [], agentId: 'forensics-test' });
      t.after(() => service.kill(info.sandbox_id).catch(() => undefined));
      const before = readdirSync(forensicsDir(config)).length;
      const paths: string[] = [];
      for (let i = 0; i < 3; i++) paths.push((await captureServiceSandbox({ service, config: resume, controllerKey: audit.privateKey, audit: audit.log }, info.sandbox_id, 'on demand')).path);
      assert.equal(service.get(info.sandbox_id).state, 'running');
      if (runtime !== 'gvisor') assert.equal(existsSync(`/sys/fs/cgroup/freezer/${service.forensicAccess(info.sandbox_id)?.cgroup.relativePath ?? ''}`), false, 'the freezer cgroup is gone after a resume too');
      if (runtime === 'gvisor') {
        const last = unzipSync(readFileSync(paths[2] as string));
        assert.match(Buffer.from(last['memory/checkpoint.unavailable.txt'] ?? Buffer.alloc(0)).toString(), /paused => stopped/, 'the reason there is no checkpoint');
      }
      const echo = await service.exec(info.sandbox_id, { argv: ['echo', 'alive'], env: {}, stdin: false, timeoutMs: 20_000 });
      assert.equal((await echo.result).exit_code, 0, 'thawed: it still runs commands');
      assert.ok(before <= 2);
      assert.equal(existsSync(paths[0] as string), false, 'the oldest bundle was removed (maxBundles = 2)');
      assert.deepEqual(readdirSync(forensicsDir(config)).sort(), paths.slice(1).map((p) => p.split('/').pop()).sort());
    });

    test('an unknown sandbox is refused, naming it', async (t) => {
      const audit = await tempAuditLog(t);
      await assert.rejects(captureServiceSandbox({ service, config, controllerKey: audit.privateKey, audit: audit.log }, 'sb-does-not-exist', 'on demand'), (err: Error & { code?: string }) => err.code === 'sandbox_not_found');
    });
  });
}

describe('namespace: a violation at or above forensics.triggerSeverity captures its sandbox', { skip: reason('namespace') }, () => {
  const service = new SandboxService({ config, policyBundleHash });
  before(() => service.start().then(() => undefined));
  after(() => service.shutdown());

  test('HIGH at a HIGH threshold captures once; MEDIUM, and a violation naming no sandbox, capture nothing', async (t) => {
    const audit = await tempAuditLog(t);
    const triggered = { ...config, forensics: { ...config.forensics, triggerSeverity: 'HIGH' as const, after: 'resume' as const } };
    const captured: string[] = [];
    const failed: unknown[] = [];
    const trigger = forensicTrigger(() => ({ service, config: triggered, controllerKey: audit.privateKey, audit: audit.log }), (r) => captured.push(r.path), (err) => failed.push(err));
    const info = await service.create({ runtime: 'namespace', limits: {}, metadata: {}, env: {}, mounts: [], agentId: 'forensics-test' });
    t.after(() => service.kill(info.sandbox_id).catch(() => undefined));
    const violation = (severity: 'MEDIUM' | 'HIGH', indicators: Record<string, unknown>): SecurityViolation => ({
      violation_id: `v-${severity}`, timestamp: new Date().toISOString(), violation_type: 'namespace_escape', severity, description: 'unshare', detection_layer: 'SECCOMP', blocked: true, indicators, remediation: '',
    });
    trigger.violationRecorded(violation('MEDIUM', { sandbox_id: info.sandbox_id }));
    trigger.violationRecorded(violation('HIGH', {}));
    trigger.violationRecorded(violation('HIGH', { sandbox_id: info.sandbox_id }));
    trigger.violationRecorded(violation('HIGH', { sandbox_id: info.sandbox_id }));
    const deadline = Date.now() + 30_000;
    while (captured.length + failed.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(failed, []);
    assert.equal(captured.length, 1, 'one capture for the burst of HIGH violations on that sandbox');
    const check = verifyBundle(readFileSync(captured[0] as string), audit.publicKey);
    assert.ok(check.ok && JSON.parse(Buffer.from(unzipSync(readFileSync(captured[0] as string))['capture.json'] as Uint8Array).toString()).reason.includes('v-HIGH'));
  });
});
