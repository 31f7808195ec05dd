/**
 * Parses one line of the denial helper (agent/airlock-seccomp-audit.c). Pure.
 */
import { AUDIT_ARCH_X86_64, AUDIT_ARCH_AARCH64, syscallTable, type Arch } from '../../isolation/seccomp/arch.ts';

/** One denied syscall, as the kernel audited it and the helper attributed it at receipt. */
export interface Denial {
  serial: number;
  pid: number;
  syscallNr: number;
  /** The call's name for the sandbox's ABI, or `syscall_<nr>` for a number not in the table. */
  syscall: string;
  arch: string;
  /** The filter action (SECCOMP_RET_ERRNO is 0x50000; a kill is 0x80000000 / 0x0). */
  code: string;
  /** The audit login uid the sandbox's launcher set (4294967295: none). */
  auid: number;
  /** The process's cgroup path (undefined: it was gone at receipt). */
  cgroup: string | undefined;
  comm: string;
}

/** What one helper line says. */
export type HelperLine =
  | { kind: 'ready' }
  | { kind: 'fail'; reason: string }
  | { kind: 'lost'; count: number }
  | { kind: 'sync'; id: string }
  | { kind: 'denial'; denial: Denial };

const ARCHES: Record<string, Arch> = { [AUDIT_ARCH_X86_64.toString(16)]: 'x86_64', [AUDIT_ARCH_AARCH64.toString(16)]: 'aarch64' };

/** Number → name tables per audit arch, built once by the caller (no module state). */
export function syscallNames(): Map<string, Map<number, string>> {
  const out = new Map<string, Map<number, string>>();
  for (const [hex, arch] of Object.entries(ARCHES)) {
    out.set(hex, new Map(Object.entries(syscallTable(arch)).map(([name, nr]) => [nr as number, name])));
  }
  return out;
}

/** Parses a line; undefined for a line that doesn't follow the format. */
export function parseHelperLine(line: string, names: Map<string, Map<number, string>>): HelperLine | undefined {
  if (line === 'ready') return { kind: 'ready' };
  if (line.startsWith('fail ')) return { kind: 'fail', reason: line.slice(5) };
  if (line.startsWith('lost ')) return { kind: 'lost', count: Number(line.slice(5)) || 1 };
  if (line.startsWith('sync ')) return { kind: 'sync', id: line.slice(5) };
  if (!line.startsWith('d ')) return undefined;
  const parts = line.split(' ');
  if (parts.length < 9) return undefined;
  const [, serial, pid, nr, arch, code, auid, cgroup] = parts as [string, string, string, string, string, string, string, string];
  const syscallNr = Number(nr);
  if (!Number.isInteger(syscallNr)) return undefined;
  return {
    kind: 'denial',
    denial: {
      serial: Number(serial),
      pid: Number(pid),
      syscallNr,
      syscall: names.get(arch)?.get(syscallNr) ?? `syscall_${syscallNr}`,
      arch,
      code,
      auid: Number(auid),
      cgroup: cgroup === '-' ? undefined : cgroup,
      comm: parts.slice(8).join(' '),
    },
  };
}
