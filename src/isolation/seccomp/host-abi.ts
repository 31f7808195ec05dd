/**
 * Whether this host's kernel runs i386 `int 0x80` system calls from 64-bit code at all (used only
 * by tests). Some VM kernels refuse that ABI themselves (built without IA32 emulation, or booted
 * with `ia32_emulation=0`): the instruction faults with SIGSEGV before any seccomp filter sees it.
 * A foreign-ABI test that then sees SIGSEGV inside a sandbox learns nothing about the filter, so
 * it must be reported as skipped with this reason, never as passed.
 *
 * The probe runs outside any filter, so it is harmless by construction: i386 getpid (20) with
 * every argument register zero, as uid 65534 when run as root, in a forked child.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const PYTHON = '/usr/bin/python3';
const SIGSEGV = 11;

/** What the host kernel did with an i386 getpid from 64-bit code. */
export type Int80Support =
  | { kind: 'runs' }
  | { kind: 'refused'; reason: string }
  | { kind: 'unknown'; reason: string };

/** mov eax, 20; xor ebx, ebx; xor ecx, ecx; xor edx, edx; int 0x80; ret — in a forked child. */
const SCRIPT = String.raw`
import ctypes, json, mmap, os
pid = os.fork()
if pid == 0:
    m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    m.write(bytes([0xb8, 20, 0, 0, 0, 0x31, 0xdb, 0x31, 0xc9, 0x31, 0xd2, 0xcd, 0x80, 0xc3]))
    ret = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))()
    os._exit(3 if ret == os.getpid() else 4)
_, status = os.waitpid(pid, 0)
print(json.dumps({"signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0, "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1}))
`;

/** Asks the host kernel, outside any seccomp filter, whether `int 0x80` runs (x86_64 only). */
export function hostInt80Support(): Int80Support {
  if (process.arch !== 'x64') return { kind: 'unknown', reason: `not x86_64 (${process.arch})` };
  if (!existsSync(PYTHON)) return { kind: 'unknown', reason: `${PYTHON} is not installed` };
  const asRoot = process.getuid?.() === 0;
  const out = spawnSync(PYTHON, ['-c', SCRIPT], { encoding: 'utf8', timeout: 10_000, ...(asRoot ? { uid: 65534, gid: 65534 } : {}) });
  let r: { signal: number; code: number };
  try {
    r = JSON.parse(out.stdout) as { signal: number; code: number };
  } catch {
    return { kind: 'unknown', reason: `host ABI probe failed: ${out.error?.message ?? out.stderr.trim()}` };
  }
  if (r.signal === 0 && r.code === 3) return { kind: 'runs' };
  if (r.signal === SIGSEGV) {
    return { kind: 'refused', reason: 'this kernel refuses the i386 ABI itself: int 0x80 dies with SIGSEGV outside any seccomp filter (no IA32 emulation), so no filter can be tested against it' };
  }
  return { kind: 'unknown', reason: `host ABI probe: i386 getpid ended ${JSON.stringify(r)}` };
}
