/**
 * The focused suite run inside the guest (a cgroup v2 + AppArmor host): the project's own test
 * files, unchanged, under `node --test`, with the emulation knobs a TCG guest needs. Pure pieces
 * (the file list, the script, the reading of its report) live here so they are tested without a VM.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { GuestTestLine } from './guest-reporter.ts';

/**
 * The test files run in the guest, relative to the checkout: every limit reported by name on both
 * runtimes, the escape probes, crash reaping (doctor --reap and a killed server), persistent
 * sandboxes through the API, leftovers, the AppArmor profile where the checkout has its test, and
 * the cgroup v2 event sources and freezer.
 */
export const IN_GUEST_TEST_FILES: readonly string[] = [
  'test/security/exhaustion.test.ts',
  'test/security/limit-reporting.test.ts',
  'test/security/escape-probes.test.ts',
  'test/integration/reap.test.ts',
  'test/integration/server-crash.test.ts',
  'test/integration/service.test.ts',
  'test/security/leftovers.test.ts',
  'test/security/apparmor.test.ts',
  // cgroup v2's own event sources (inotify on memory.events/pids.events) and freezer (cgroup.freeze),
  // which a cgroup v1 host can only unit-test.
  'src/isolation/cgroups/limit-events.test.ts',
  'test/security/forensics.test.ts',
];

/** The listed files this checkout has (a file another change has not landed yet is left out). */
export function inGuestTestFiles(checkout: string, files: readonly string[] = IN_GUEST_TEST_FILES): string[] {
  return files.filter((file) => existsSync(join(checkout, file)));
}

/** Where the guest's store disk is mounted: the default state directory, as on a set-up host. */
export const GUEST_STATE_DIR = '/var/lib/airlock';

/** The job file the reporter writes (see guest-reporter.ts). */
export const GUEST_REPORT_FILE = 'report.jsonl';

/**
 * Emulation knobs, read by the tests themselves (never by the product): how much slower than a
 * host this guest is, which stretches waits and the time limits of cases that must outlast their
 * own start-up; how many sandboxes the leftovers batch runs per runtime.
 */
export interface GuestSuiteKnobs {
  slowness: number;
  leftoversCount: number;
  /** Extra V8 flags for every Node in the guest (NODE_OPTIONS), e.g. to step around an emulator fault. */
  nodeOptions: string;
}

/**
 * The knobs a TCG guest runs with. Measured on a 2-core host: a namespace case 7x slower than on
 * the host, a gVisor case (ptrace platform, every syscall a trap) and `airlock serve`'s start-up
 * (WebAssembly compiled by an emulated CPU) well over 8x; 10 sandboxes per runtime are 2 of every
 * ending the leftovers batch has.
 */
export const TCG_KNOBS: GuestSuiteKnobs = { slowness: 16, leftoversCount: 10, nodeOptions: '' };

/** Under KVM the guest runs near host speed (not measured here: no KVM on the development hosts). */
export const KVM_KNOBS: GuestSuiteKnobs = { slowness: 2, leftoversCount: 200, nodeOptions: '' };

/** The knobs for how QEMU runs the guest. */
export function knobsFor(accel: 'kvm' | 'tcg'): GuestSuiteKnobs {
  return accel === 'kvm' ? KVM_KNOBS : TCG_KNOBS;
}

/**
 * The longest one test may run in the guest before it is failed and the suite moves on. Why: a
 * test that hangs must cost one failure, not the rest of CI's time; the slowest case measured under
 * TCG took 6 min (server-crash, on a loaded host).
 */
export const GUEST_TEST_TIMEOUT_MS = 900_000;

/** Minutes without a finished test after which the guest prints what it is running. */
const WATCHDOG_IDLE_MINUTES = 5;

/** Quotes one word for bash. */
function shellWord(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The bash script the guest runs: the test files one at a time under `node --test`, the spec
 * reporter on the console and the JSON-lines reporter into the job folder. Exits with node's status.
 */
export function guestSuiteScript(files: readonly string[], knobs: GuestSuiteKnobs): string {
  return [
    'set -u',
    // What the guest is, for the console of a failed run.
    'echo "guest: $(uname -r), cgroup $(stat -fc %T /sys/fs/cgroup), lsm $(cat /sys/kernel/security/lsm), cpu flags: $(grep -m1 -ow -E "avx|avx2|sse4_2|pku" /proc/cpuinfo | tr "\\n" " ")"',
    // Why: the tests' state directories must sit on the store disk, beside the image they hard-link.
    `export TMPDIR=${GUEST_STATE_DIR}/tmp`,
    'mkdir -p -m 1777 "$TMPDIR"',
    `export AIRLOCK_TEST_SLOWNESS=${knobs.slowness} AIRLOCK_TEST_LEFTOVERS_COUNT=${knobs.leftoversCount}`,
    ...(knobs.nodeOptions === '' ? [] : [`export NODE_OPTIONS=${shellWord(knobs.nodeOptions)}`]),
    // A hang shows on the console: what runs, and where each process waits in the kernel.
    `( idle=0; last=; while sleep 60; do cur=$(stat -c %s /job/${GUEST_REPORT_FILE} 2>/dev/null); if [ "$cur" = "$last" ]; then idle=$((idle + 1)); else idle=0; last=$cur; fi; if [ $((idle % ${WATCHDOG_IDLE_MINUTES})) -eq 0 ] && [ $idle -gt 0 ]; then echo "@@ no test finished for $idle min; processes:"; ps -eo pid,ppid,stat,wchan:24,etimes,args --forest | cut -c1-220; fi; done ) &`,
    [
      `node --test --test-concurrency=1 --test-timeout=${GUEST_TEST_TIMEOUT_MS}`,
      '--test-reporter=spec --test-reporter-destination=stdout',
      `--test-reporter=./test/hosts/guest-reporter.ts --test-reporter-destination=/job/${GUEST_REPORT_FILE}`,
      ...files.map(shellWord),
    ].join(' '),
  ].join('\n') + '\n';
}

/** What the guest's report says. */
export interface GuestReport {
  tests: GuestTestLine[];
  counts: Record<GuestTestLine['outcome'], number>;
  /** Failures as "file: name\n  message" blocks, for an assertion message. */
  failures: string[];
  /** Files with no test that passed (all skipped, or never reported). */
  filesWithoutPass: string[];
}

/** How much of one failure's message the report shows. */
const FAILURE_KEPT = 2500;

/** Reads the reporter's JSON lines (a torn last line, from a guest cut off, is ignored). */
export function readGuestReport(jsonl: string, files: readonly string[]): GuestReport {
  const tests: GuestTestLine[] = [];
  for (const line of jsonl.split('\n')) {
    if (line.trim() === '') continue;
    try {
      tests.push(JSON.parse(line) as GuestTestLine);
    } catch {
      // Only the last line can be torn; anything else parsed above.
    }
  }
  const counts = { pass: 0, fail: 0, skip: 0, todo: 0 };
  for (const t of tests) counts[t.outcome]++;
  const failures = tests.filter((t) => t.outcome === 'fail').map((t) => `${t.file}: ${t.name}\n  ${t.detail.trim().slice(0, FAILURE_KEPT).replace(/\n/g, '\n  ')}`);
  const passed = new Set(tests.filter((t) => t.outcome === 'pass').map((t) => t.file));
  return { tests, counts, failures, filesWithoutPass: files.filter((f) => !passed.has(f)) };
}

/**
 * A copy of the checkout's working tree (without .git and node_modules) for one guest run, and the
 * shares that complete it. Why: the suite runs for many minutes and reads sources as it goes; a
 * share of the live tree would show it files edited meanwhile, even half-written ones.
 * node_modules (installed by `npm ci`, not edited) is shared as it is.
 */
export async function snapshotCheckout(checkout: string): Promise<{ dir: string; shares: Record<string, string> }> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-guest-checkout-'));
  await promisify(execFile)('bash', ['-c', 'set -o pipefail; tar -C "$1" --exclude=./.git --exclude=./node_modules -cf - . | tar -C "$2" -xf -', 'snapshot', checkout, dir]);
  return { dir, shares: { '/airlock/node_modules': join(checkout, 'node_modules') } };
}
