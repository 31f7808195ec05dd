/**
 * A forensic capture of one sandbox: frozen, read from the host side, written as a signed bundle
 * `agent-<sandbox id>-<timestamp>.zip` under the forensics directory, old bundles pruned, and the
 * sandbox killed or thawed as configured. What could not be collected is written into the bundle
 * as a reason (`*.unavailable.txt`), never silently left out.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { AuditLog } from '../audit/log.ts';
import type { ForensicAccess } from '../isolation/driver.ts';
import type { Image } from '../images/image.ts';
import type { SandboxInfo, SandboxNetworkInfo } from '../sandbox/service-types.ts';
import type { ForensicsConfig } from '../config/forensics-config.ts';
import { buildBundle } from './bundle.ts';
import { freezeSandbox, runsc, type Frozen } from './freeze.ts';
import { dumpMemory, mainProcess, readMaps } from './memory.ts';
import { dumpGuestRam, findGuestRam } from './guest-ram.ts';
import { readProcesses } from './processes.ts';
import { pruneBundles } from './retention.ts';
import { captureScratch } from './scratch.ts';

/** Most audit records of one sandbox put in a bundle (with their proofs). */
const MAX_AUDIT_RECORDS = 10_000;

/** Everything a capture is given about the sandbox. */
export interface CaptureSubject {
  readonly info: SandboxInfo;
  /** The spec policy decided on (owner and what it was created with). */
  readonly spec: unknown;
  readonly image: Image | undefined;
  readonly network: SandboxNetworkInfo | undefined;
  readonly policyHash: string;
  /** Host-side access; undefined when the driver has none (then nothing is frozen or read from /proc). */
  readonly access: ForensicAccess | undefined;
  /** Ends the sandbox (after = kill). */
  kill(): Promise<void>;
}

/** What a capture needs besides the subject. */
export interface CaptureOptions {
  readonly dir: string;
  readonly config: Pick<ForensicsConfig, 'maxBundles' | 'maxAgeDays' | 'after' | 'memoryDumpMb' | 'scratchCopyMb'>;
  readonly controllerKey: KeyObject;
  readonly audit: AuditLog | undefined;
  /** Why the capture was taken (`on demand`, or the violation that triggered it). */
  readonly reason: string;
  readonly now?: Date;
}

/** The outcome of a capture. */
export interface CaptureResult {
  readonly path: string;
  readonly sandbox_id: string;
  readonly entries: number;
  readonly bytes: number;
  readonly frozen: Frozen['method'] | null;
  readonly after: 'kill' | 'resume';
  readonly pruned: string[];
}

/** The bundle's file name for `sandboxId` at `now`: agent-<id>-<yyyymmddThhmmssmmmZ>.zip. */
export function bundleName(sandboxId: string, now: Date): string {
  return `agent-${sandboxId}-${now.toISOString().replace(/[-:.]/g, '')}.zip`;
}

function json(value: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
}

/** Captures `subject` into a signed bundle; the sandbox is frozen throughout and killed or thawed after. */
export async function captureForensics(subject: CaptureSubject, options: CaptureOptions): Promise<CaptureResult> {
  const now = options.now ?? new Date();
  const id = subject.info.sandbox_id;
  // Why 0700: a bundle holds the sandbox's memory and files, which may hold secrets.
  await mkdir(options.dir, { recursive: true, mode: 0o700 });
  const entries = new Map<string, Uint8Array>();
  const frozen = subject.access === undefined ? undefined : await freezeSandbox(subject.access);
  try {
    entries.set('capture.json', json({ sandbox_id: id, reason: options.reason, captured_at: now.toISOString(), frozen: frozen?.method ?? null, runtime: subject.info.runtime, after: options.config.after }));
    entries.set('sandbox.json', json({ info: subject.info, spec: subject.spec, policy_hash: subject.policyHash }));
    entries.set('violations.json', json(subject.info.security_violations));
    entries.set('egress.json', json(subject.network ?? null));
    if (subject.access === undefined) entries.set('host.unavailable.txt', Buffer.from('the runtime gives no host-side access: no processes, scratch or memory\n'));
    else await collectHost(subject, subject.access, options, entries);
    await collectAudit(id, options.audit, entries);
  } catch (err) {
    if (frozen !== undefined) await frozen.thaw().catch(() => undefined);
    throw err;
  }
  const zip = buildBundle(id, entries, options.controllerKey, now);
  const path = join(options.dir, bundleName(id, now));
  try {
    await writeFile(path, zip, { mode: 0o600, flag: 'wx' });
  } finally {
    // Why thaw before kill too: a frozen cgroup v1 process cannot act on SIGKILL until thawed.
    if (frozen !== undefined) await frozen.thaw().catch(() => undefined);
    if (options.config.after === 'kill') await subject.kill();
  }
  const pruned = await pruneBundles(options.dir, options.config, now.getTime());
  return { path, sandbox_id: id, entries: entries.size + 2, bytes: zip.length, frozen: frozen?.method ?? null, after: options.config.after, pruned };
}

async function collectHost(subject: CaptureSubject, access: ForensicAccess, options: CaptureOptions, entries: Map<string, Uint8Array>): Promise<void> {
  const processes = readProcesses(access.cgroup.pids());
  entries.set('processes/host.json', json(processes));
  const limit = options.config.memoryDumpMb * 1024 * 1024;
  if (access.runsc !== undefined) {
    entries.set('processes/sandbox.txt', Buffer.from(await runsc(access, ['ps', access.runsc.containerId]).catch((err: Error) => `runsc ps failed: ${err.message}`)));
  } else if (access.guestRam !== undefined) {
    collectGuestRam(access.guestRam, limit, entries);
  } else {
    for (const p of processes) {
      const maps = readMaps(p.pid);
      if (maps !== undefined) entries.set(`memory/${p.pid}.maps`, Buffer.from(maps));
    }
    const main = mainProcess(processes);
    const maps = main === undefined ? undefined : readMaps(main.pid);
    if (main !== undefined && maps !== undefined && limit > 0) {
      const dump = dumpMemory(main.pid, maps, limit);
      entries.set(`memory/${main.pid}.dump`, dump.bytes);
      entries.set(`memory/${main.pid}.dump.json`, json({ pid: dump.pid, cmdline: main.cmdline, max_bytes: dump.max_bytes, ranges: dump.ranges }));
    } else {
      entries.set('memory/dump.unavailable.txt', Buffer.from(limit === 0 ? 'forensics.memoryDumpMb is 0: maps only\n' : 'no process to dump\n'));
    }
  }
  if (access.scratchDir === undefined || subject.image === undefined) {
    const where = access.guestRam === undefined ? '' : ": it is a tmpfs in the guest's own RAM (memory/guest-ram.dump)";
    entries.set('scratch/unavailable.txt', Buffer.from(`the sandbox has no scratch directory the host can reach${where}\n`));
  } else {
    const scratch = await captureScratch(access.scratchDir, subject.image, options.config.scratchCopyMb * 1024 * 1024);
    entries.set('scratch/changes.json', json({ image_digest: scratch.image_digest, copy_limit_bytes: scratch.copy_limit_bytes, changes: scratch.changes }));
    for (const [path, bytes] of scratch.files) entries.set(`scratch/files/${path}`, bytes);
  }
  // Last: the checkpoint ends the sandbox, and everything above reads it live.
  if (access.runsc === undefined) return;
  if (options.config.after === 'kill') await checkpoint(access, limit, entries);
  else entries.set('memory/checkpoint.unavailable.txt', Buffer.from(`${NO_RESUMABLE_CHECKPOINT}\n`));
}

/**
 * A microvm guest: its processes and files are known only to its own kernel, so what the host can
 * take is the guest's RAM (the non-zero pages, up to the bound) beside the VMM's own processes.
 */
function collectGuestRam(guest: NonNullable<ForensicAccess['guestRam']>, limit: number, entries: Map<string, Uint8Array>): void {
  entries.set('processes/guest.unavailable.txt', Buffer.from("the guest's processes are known only to its own kernel: its memory is in memory/guest-ram.dump; processes/host.json lists the VMM\n"));
  const { pid } = guest;
  const maps = pid === undefined ? undefined : readMaps(pid);
  const found = pid === undefined || maps === undefined ? { reason: 'the VMM is not running' } : findGuestRam(maps, guest.bytes);
  if (pid === undefined || limit === 0 || 'reason' in found) {
    entries.set('memory/guest-ram.unavailable.txt', Buffer.from(`${'reason' in found ? found.reason : 'forensics.memoryDumpMb is 0'}\n`));
    return;
  }
  const { bytes, ...index } = dumpGuestRam(pid, found.start, found.line, guest.bytes, limit);
  entries.set('memory/guest-ram.dump', bytes);
  entries.set('memory/guest-ram.dump.json', json(index));
}

/**
 * Why a sandbox that is resumed after capture gets no gVisor checkpoint: with runsc 20221219,
 * `checkpoint --leave-running` of a paused container panics after writing the image ("invalid
 * state transition: paused => stopped") and leaves the container destroyed, not restored.
 */
const NO_RESUMABLE_CHECKPOINT =
  'no gVisor memory snapshot: runsc checkpoint --leave-running of a paused sandbox destroys it (runsc 20221219 panics: invalid state transition paused => stopped), and forensics.after is resume; set it to kill to get one';

/**
 * gVisor's own memory snapshot: `runsc checkpoint` of the paused sandbox (which ends it; the kill
 * that follows releases the rest) into a temporary directory, taken into the bundle if within the
 * bound. Its failure is recorded, not fatal.
 */
async function checkpoint(access: ForensicAccess, limit: number, entries: Map<string, Uint8Array>): Promise<void> {
  const dir = await mkdtemp('/tmp/airlock-checkpoint-');
  try {
    await runsc(access, ['checkpoint', '--image-path', dir, access.runsc?.containerId ?? ''], 120_000);
    let total = 0;
    for (const name of await readdir(dir)) {
      const bytes = await readFile(join(dir, name));
      total += bytes.length;
      if (total > limit) {
        entries.set('memory/checkpoint.unavailable.txt', Buffer.from(`the checkpoint is larger than forensics.memoryDumpMb (${limit} bytes)\n`));
        return;
      }
      entries.set(`memory/checkpoint/${name}`, bytes);
    }
  } catch (err) {
    entries.set('memory/checkpoint.unavailable.txt', Buffer.from(`runsc checkpoint failed: ${(err as Error).message}\n`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The sandbox's audit records, each as a receipt (record, inclusion proof, signed head). */
async function collectAudit(id: string, audit: AuditLog | undefined, entries: Map<string, Uint8Array>): Promise<void> {
  if (audit === undefined) {
    entries.set('audit/unavailable.txt', Buffer.from('the controller keeps no audit log\n'));
    return;
  }
  const records = await audit.query({ sandboxId: id, limit: MAX_AUDIT_RECORDS });
  const receipts = [];
  for (const r of records) receipts.push(await audit.receipt(r.index));
  entries.set('audit/receipts.json', json(receipts));
  entries.set('output.json', json(records.filter((r) => r.record.kind === 'exec.finished' || r.record.kind === 'execution.finished').map((r) => r.record)));
}
