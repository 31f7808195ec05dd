/**
 * T27 (second half), on every runtime, through the persistent-sandbox path: sandbox code can reach
 * neither the in-sandbox agent's control channel nor another command's streams. A background
 * process left behind by one exec waits for a later exec, then tries to reopen every descriptor of
 * every other process through /proc/<pid>/fd and write forged output into it, and to open every
 * other process's /proc/<pid>/mem for writing (never writing). The later exec's output must be
 * exactly what it printed, and every one of those opens must fail.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SandboxService } from '../../src/sandbox/service.ts';
import { policyDirOf, readBundleHash } from '../../src/policy/bundle-files.ts';
import type { ExecSession } from '../../src/sandbox/service-types.ts';
import { RUNTIMES, type SuiteRuntime } from './lib/runtime.ts';
import { useSuite, type Suite } from './lib/suite.ts';

const suite = useSuite();

/** Where the two execs meet; inside the sandbox's own scratch. */
const DIR = '/tmp/t27';
/** Readiness polls (10 ms each) before either side gives up: a bound, not a stand-in for readiness. */
const POLLS = 3000;
/** Descriptor numbers tried per process: blind, since /proc/<pid>/fd may not even be listable. */
const MAX_FD = 64;

/**
 * The attacker (exec A, left running in the background). It waits until the victim has written its
 * pid, attacks, writes one report line per finding, then says `done`. Report lines:
 * `tried <pid>`, `fd <path> <errno>` (the victim's output only, to prove the target existed),
 * `opened <path> <link target> <bytes written>`, `mem <path>` (opened for writing), `abi <landlock ABI or -errno>`.
 */
const ATTACKER = String.raw`
use strict; use Fcntl; use POSIX ();
my $dir = shift;
for (my $i = 0; $i < ${POLLS} && ! -e "$dir/victim"; $i++) { select(undef, undef, undef, 0.01) }
open(my $v, '<', "$dir/victim") or die "no victim: $!"; my $victim = <$v>; chomp $victim;
my @report;
opendir(my $proc, '/proc') or die "/proc: $!";
for my $pid (sort { $a <=> $b } grep { /^\d+$/ && $_ != $$ } readdir($proc)) {
  push @report, "tried $pid";
  for my $fd (0 .. ${MAX_FD - 1}) {
    my $path = "/proc/$pid/fd/$fd";
    if (sysopen(my $h, $path, O_WRONLY | O_NONBLOCK | O_NOCTTY)) {
      my $n = syswrite($h, "FORGED by $$ through $path\n") // -1;
      push @report, "opened $path " . (readlink($path) // '?') . " $n";
    } elsif ($pid == $victim && ($fd == 1 || $fd == 2)) {
      push @report, "fd $path " . ($! + 0);
    }
  }
  # Opened for writing only, never written: the probe changes nothing even where it succeeds.
  push @report, "mem /proc/$pid/mem" if sysopen(my $m, "/proc/$pid/mem", O_RDWR);
}
my $abi = syscall(444, 0, 0, 1);
push @report, 'abi ' . ($abi >= 0 ? $abi : -($! + 0));
open(my $out, '>', "$dir/report.tmp") or die; print $out join("\n", @report), "\n"; close($out);
rename("$dir/report.tmp", "$dir/report") or die; open(my $done, '>', "$dir/done") or die;
`;

/** The victim (exec B): prints its pid, lets the attacker run, waits for it, prints `end`. */
const VICTIM = [
  'echo "victim $$"',
  `echo $$ > ${DIR}/victim.tmp && mv ${DIR}/victim.tmp ${DIR}/victim`,
  `i=0; while [ ! -e ${DIR}/done ] && [ $i -lt ${POLLS} ]; do sleep 0.01; i=$((i+1)); done`,
  'echo end',
].join('; ');

interface Findings {
  victimOut: string;
  victimErr: string;
  victimPid: number;
  tried: number[];
  victimFds: Map<string, number>;
  opened: string[];
  mem: string[];
  landlockAbi: number;
}

async function collect(session: ExecSession): Promise<{ out: string; err: string; exit: number | null }> {
  let out = '';
  let err = '';
  session.onStdout((c) => (out += c.toString()));
  session.onStderr((c) => (err += c.toString()));
  const result = await session.result;
  return { out, err, exit: result.exit_code };
}

/** One persistent sandbox per runtime: attacker exec, victim exec, then the report. */
async function attack(runtime: SuiteRuntime, s: Suite): Promise<Findings> {
  const service = new SandboxService({ config: { ...s.config, service: { ...s.config.service, pools: [] } }, policyBundleHash: await readBundleHash(policyDirOf(s.config.policy)) });
  await service.start();
  try {
    const { sandbox_id: id } = await service.create({ runtime, limits: {}, metadata: {}, env: {}, mounts: [] });
    const exec = (argv: string[]) => service.exec(id, { argv, env: {}, stdin: false, timeoutMs: 60_000 }).then(collect);
    const setup = await exec(['sh', '-c', `mkdir ${DIR} && perl -e "$1" ${DIR} >/dev/null 2>${DIR}/attacker.err &`, 'attacker', ATTACKER]);
    assert.equal(setup.exit, 0, `attacker did not start: ${setup.err}`);
    const victim = await exec(['sh', '-c', VICTIM]);
    const report = await exec(['sh', '-c', `cat ${DIR}/report || cat ${DIR}/attacker.err`]);
    assert.equal(report.exit, 0, `the attacker wrote no report: ${report.out}${report.err}`);
    const lines = report.out.trim().split('\n').map((l) => l.split(' '));
    const victimPid = Number(/^victim (\d+)\n/.exec(victim.out)?.[1]);
    const field = (kind: string) => lines.filter((l) => l[0] === kind);
    await service.kill(id);
    return {
      victimOut: victim.out,
      victimErr: victim.err,
      victimPid,
      tried: field('tried').map((l) => Number(l[1])),
      victimFds: new Map(field('fd').map((l) => [l[1] as string, Number(l[2])])),
      opened: field('opened').map((l) => l.slice(1).join(' ')),
      mem: field('mem').map((l) => l[1] as string),
      landlockAbi: Number(field('abi')[0]?.[1]),
    };
  } finally {
    await service.shutdown();
  }
}

const ENOENT = 2;

// microvm too: the same checks inside its guest.
for (const runtime of [...RUNTIMES, 'microvm'] as const) {
  describe(`${runtime}: T27 control channels inside the sandbox`, () => {
    let findings: Promise<Findings> | undefined;
    const run = async (t: { skip(reason: string): void }): Promise<Findings | undefined> => {
      const avail = await suite.runtime(runtime);
      if (!avail.ok) {
        t.skip(avail.reason);
        return undefined;
      }
      findings ??= attack(runtime, suite);
      return findings;
    };

    test('a background process of one exec cannot reopen any descriptor of the agent or a later exec', { timeout: 120_000 }, async (t) => {
      const f = await run(t);
      if (f === undefined) return;
      assert.ok(f.victimPid > 0, `the victim did not print its pid: ${JSON.stringify(f.victimOut)}`);
      // Not vacuous: the attacker saw the victim and the agent, and the victim's stdio existed.
      assert.ok(f.tried.includes(f.victimPid), `the attacker never saw the victim (pid ${f.victimPid}; saw ${f.tried.join(',')})`);
      assert.ok(f.tried.length >= 2, `the attacker saw only ${f.tried.join(',')}: the agent must be among them`);
      // The victim's stdin is /dev/null (no stdin requested); its stdout and stderr are the stream.
      for (const fd of [1, 2]) {
        const errno = f.victimFds.get(`/proc/${f.victimPid}/fd/${fd}`);
        assert.ok(errno !== undefined && errno !== ENOENT, `the victim's fd ${fd} was absent or reopened (errno ${String(errno)}; opened: ${f.opened.join('; ')})`);
      }
      // Reopening /dev/null gives nothing /dev/null itself doesn't; everything else must be refused.
      const reached = f.opened.filter((o) => o.split(' ')[1] !== '/dev/null');
      assert.deepEqual(reached, [], 'descriptors of other processes reopened through /proc/<pid>/fd');
      assert.equal(f.victimOut, `victim ${f.victimPid}\nend\n`, 'the later exec printed exactly its own output');
      assert.equal(f.victimErr, '');
    });

    test('no other process of the sandbox has its /proc/<pid>/mem open for writing', { timeout: 120_000 }, async (t) => {
      const f = await run(t);
      if (f === undefined) return;
      // Linux refuses this across commands only through the per-command Landlock domain (ABI 2+);
      // gVisor refuses it itself. A Linux host without Landlock can't hold this case.
      if (runtime === 'namespace' && !(f.landlockAbi >= 2)) {
        t.skip(`this kernel has no usable Landlock (ABI ${f.landlockAbi}): same-uid commands can open each other's /proc/<pid>/mem`);
        return;
      }
      assert.deepEqual(f.mem, [], 'opened another process\'s memory for writing');
    });
  });
}
