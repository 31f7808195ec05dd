/**
 * The syscall probe both real-kernel tests run inside a sandbox (used only by tests). It passes
 * harmless arguments, and runs in a forked child each call that would act if the filter were
 * missing (namespace clone, foreign ABIs). It prints one JSON object of [return, errno] pairs.
 */
import { syscallNumber } from './arch.ts';
import type { Arch } from './arch.ts';
import type { SyscallName } from './syscalls.ts';

/** The probe run inside the sandbox: prints one JSON object of results. */
export const PROBE_SCRIPT = String.raw`
import ctypes, json, mmap, os, sys, threading
nr = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
def sc(*a):
    ctypes.set_errno(0)
    r = libc.syscall(*[ctypes.c_long(x) for x in a])
    return [r, ctypes.get_errno()]
def in_child(fn):
    pid = os.fork()
    if pid == 0:
        try: os._exit(fn() or 0)
        except BaseException: os._exit(99)
    _, status = os.waitpid(pid, 0)
    return {"signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0, "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1}
out = {}
out["seccomp"] = [l.split()[1] for l in open("/proc/self/status") if l.startswith("Seccomp:")][0]
out["uid"] = os.getuid()
out["unshare"] = sc(nr["unshare"], 0)
out["mount"] = sc(nr["mount"], 0, 0, 0, 0, 0)
out["bpf"] = sc(nr["bpf"], 0xffff, 0, 0)
out["clone3"] = sc(nr["clone3"], 0, 0)
out["io_uring_setup"] = sc(nr["io_uring_setup"], 0, 0)
for name in ("mount_setattr", "quotactl_fd", "open_tree_attr"):
    out[name] = sc(nr[name], -1, 0, 0, 0, 0)
out["ioctl_tiocsti_high"] = sc(nr["ioctl"], -1, 0x5412 | (1 << 32), 0)
out["ioctl_tcgets"] = sc(nr["ioctl"], -1, 0x5401, 0)
r = sc(nr["socket"], 40 | (1 << 32), 1, 0)
if r[0] >= 0: os.close(r[0])
out["socket_vsock_high"] = r
r = sc(nr["socket"], 1, 1, 0)
if r[0] >= 0: os.close(r[0])
out["socket_unix"] = r
out["personality_no_aslr"] = sc(nr["personality"], 0x0040000)
out["personality_query"] = sc(nr["personality"], 0xffffffff)
def clone_newuser():
    r = sc(nr["clone"], 0x10000000 | 17, 0, 0, 0, 0)
    if r[0] == 0: os._exit(0)
    if r[0] > 0: os.waitpid(r[0], 0); return 0
    return r[1]
out["clone_newuser"] = in_child(clone_newuser)
out["fork"] = in_child(lambda: 7)
t = threading.Thread(target=lambda: out.__setitem__("thread", "ran")); t.start(); t.join()
if nr.get("x32_getpid") is not None:
    out["x32"] = in_child(lambda: sc(nr["x32_getpid"])[1])
    def int80():
        # mov eax, <unshare>; xor edi, edi; int 0x80; ret. A kernel with an i386 ABI must kill this
        # (foreign AUDIT_ARCH); a kernel without one (gVisor) runs it as native unshare(0), which
        # the filter denies. The exit code is the errno.
        m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        m.write(bytes([0xb8]) + nr["unshare"].to_bytes(4, "little") + bytes([0x31, 0xff, 0xcd, 0x80, 0xc3]))
        addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
        return -ctypes.CFUNCTYPE(ctypes.c_int)(addr)() & 0xff
    out["int80"] = in_child(int80)
print(json.dumps(out))
`;

/** Syscall numbers the probe needs, for this host. */
export function probeNumbers(arch: Arch): Record<string, number | null> {
  const names: SyscallName[] = [
    'unshare', 'mount', 'bpf', 'clone3', 'io_uring_setup', 'ioctl', 'socket', 'personality', 'clone', 'getpid',
    'mount_setattr', 'quotactl_fd', 'open_tree_attr',
  ];
  const out: Record<string, number | null> = {};
  for (const n of names) out[n] = syscallNumber(arch, n) ?? null;
  // The x32 twin of getpid: same AUDIT_ARCH, bit 30 set in nr.
  out['x32_getpid'] = arch === 'x86_64' ? 0x40000000 + 39 : null;
  return out;
}

