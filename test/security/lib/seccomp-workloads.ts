/**
 * Scripts the seccomp allow-list cases run inside real sandboxes: a probe of the calls the allow
 * list refuses (each attack call in a forked child, with harmless arguments), and the everyday
 * work of python3 and node that must keep running under it.
 */
import { syscallNumber, type Arch } from '../../../src/isolation/seccomp/arch.ts';
import type { SyscallName } from '../../../src/isolation/seccomp/syscalls.ts';

/** Calls the allow list refuses that the old deny list let through, probed with harmless arguments. */
export const NEWLY_REFUSED: readonly SyscallName[] = [
  'modify_ldt', 'move_pages', 'migrate_pages', 'mbind', 'set_mempolicy', 'memfd_secret', 'ioprio_set',
  'sched_setparam', 'sched_setscheduler', 'sched_setattr', 'process_madvise', 'fanotify_mark', 'statmount', 'listmount',
];

/** Netlink protocols that must be refused: SOCK_DIAG, XFRM, AUDIT, NETFILTER, KOBJECT_UEVENT, GENERIC. */
export const REFUSED_NETLINK = { sock_diag: 4, xfrm: 6, audit: 9, netfilter: 12, uevent: 15, generic: 16 } as const;

/** The syscall numbers the refusal probe needs on `arch` (null: the architecture lacks the call). */
export function refusalNumbers(arch: Arch): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const name of [...NEWLY_REFUSED, 'openat2', 'socket', 'socketpair', 'sched_getparam'] as const) out[name] = syscallNumber(arch, name) ?? null;
  return out;
}

/**
 * Prints one JSON object: for each refused call `{ code }`, the errno its forked child exited with
 * (0 = the call succeeded); `unknown_470` is a number no kernel table assigns yet; the `ok_*`
 * entries are controls that must succeed.
 */
export const REFUSAL_PROBE = String.raw`
import ctypes, json, os, socket, sys
nr = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
buf = ctypes.create_string_buffer(256)
def sc(*a):
    ctypes.set_errno(0)
    r = libc.syscall(*[ctypes.c_long(x) for x in a])
    return 0 if r >= 0 else ctypes.get_errno()
def in_child(fn):
    pid = os.fork()
    if pid == 0:
        try: os._exit(fn() & 0xff)
        except BaseException: os._exit(99)
    _, status = os.waitpid(pid, 0)
    return {"signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0, "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1}
p = ctypes.addressof(buf)
args = {
    "modify_ldt": (0, p, 16), "move_pages": (0, 0, 0, 0, 0, 0), "migrate_pages": (0, 0, 0, 0),
    "mbind": (0, 0, 0, 0, 0, 0), "set_mempolicy": (0, 0, 0), "memfd_secret": (0,), "ioprio_set": (1, 0, 0),
    "sched_setparam": (0, p), "sched_setscheduler": (0, 0, p), "sched_setattr": (0, p, 0),
    "process_madvise": (-1, 0, 0, 0, 0), "fanotify_mark": (-1, 0, 0, -100, 0), "statmount": (0, 0, 0, 0), "listmount": (0, 0, 0, 0),
}
out = {}
for name, a in args.items():
    if nr.get(name) is None: continue
    out[name] = in_child(lambda: sc(nr[name], *a))
for name, proto in json.loads(sys.argv[2]).items():
    out["netlink_" + name] = in_child(lambda: sc(nr["socket"], 16, 3 | 0x80000, proto))
out["af_alg"] = in_child(lambda: sc(nr["socket"], 38, 5 | 0x80000, 0))
out["af_packet"] = in_child(lambda: sc(nr["socket"], 17, 2 | 0x80000, 0))
out["socketpair_inet"] = in_child(lambda: sc(nr["socketpair"], 2, 1, 0, p))
out["openat2"] = in_child(lambda: sc(nr["openat2"], -100, ctypes.addressof(ctypes.create_string_buffer(b"/\0")), p, 24))
out["unknown_470"] = in_child(lambda: sc(470, 0, 0, 0))
out["ok_netlink_route"] = in_child(lambda: sc(nr["socket"], 16, 3 | 0x80000, 0))
out["ok_sched_getparam"] = in_child(lambda: sc(nr["sched_getparam"], 0, p))
out["ok_socketpair_unix"] = in_child(lambda: sc(nr["socketpair"], 1, 1, 0, p))
out["ok_if_nameindex"] = [n for _, n in socket.if_nameindex()]
print(json.dumps(out))
`;

/**
 * Everyday python3 work (threads, subprocess, asyncio and sockets over loopback, mmap,
 * multiprocessing, sqlite3, file operations); prints `PY-OK <checks>` or raises.
 */
export const PYTHON_WORKLOAD = String.raw`
import asyncio, hashlib, json, mmap, multiprocessing, os, shutil, signal, socket, sqlite3, ssl, subprocess, sys, tempfile, threading, time, select, resource
done = []
work = tempfile.mkdtemp(dir=sys.argv[1] if len(sys.argv) > 1 else None)
# threads
res = []
ts = [threading.Thread(target=lambda i=i: res.append(hashlib.sha256(str(i).encode()).hexdigest())) for i in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
assert len(res) == 8; done.append("threads")
# subprocess, with pipes and a new session
r = subprocess.run(["/bin/sh", "-c", "echo hi; echo err >&2; exit 3"], capture_output=True, text=True, start_new_session=True)
assert (r.stdout, r.stderr, r.returncode) == ("hi\n", "err\n", 3), r; done.append("subprocess")
# asyncio TCP server and client over loopback
async def main():
    async def handle(reader, writer):
        writer.write((await reader.readline()).upper()); await writer.drain(); writer.close()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"ping\n"); await writer.drain()
    line = await reader.readline(); writer.close(); server.close(); await server.wait_closed()
    proc = await asyncio.create_subprocess_exec("/bin/echo", "async", stdout=asyncio.subprocess.PIPE)
    assert (await proc.communicate())[0] == b"async\n"
    return line
assert asyncio.run(main()) == b"PING\n"; done.append("asyncio")
# UDP and IPv6 loopback, unix socketpair, getaddrinfo, interfaces (netlink route)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); v.sendto(b"x", u.getsockname())
assert u.recvfrom(10)[0] == b"x"
try:
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM); s6.bind(("::1", 0)); s6.listen(); s6.close()
except OSError as e:
    assert e.errno in (99, 97), e  # no IPv6 loopback address in this network namespace
a, b = socket.socketpair(); a.sendall(b"pair"); assert b.recv(4) == b"pair"
assert socket.getaddrinfo("localhost", 80, proto=socket.IPPROTO_TCP)
assert "lo" in [n for _, n in socket.if_nameindex()]; done.append("sockets")
# mmap of a file and anonymous memory, memfd
path = os.path.join(work, "m")
with open(path, "wb") as f: f.write(b"\0" * 8192)
with open(path, "r+b") as f:
    m = mmap.mmap(f.fileno(), 8192); m[0:5] = b"hello"; m.flush(); m.close()
anon = mmap.mmap(-1, 1 << 20); anon[0] = 1; anon.close()
os.close(os.memfd_create("x")); done.append("mmap")
# multiprocessing: fork pool, pipes, queues (semaphores) where /dev/shm exists
ctx = multiprocessing.get_context("fork")
parent, child = ctx.Pipe()
p = ctx.Process(target=lambda c: c.send(os.getpid()), args=(child,)); p.start(); assert parent.recv() > 0; p.join()
assert p.exitcode == 0
if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
    with ctx.Pool(2) as pool: assert pool.map(abs, [-1, -2, -3]) == [1, 2, 3]
    done.append("multiprocessing-pool")
done.append("multiprocessing")
# sqlite3 on disk, with WAL (mmap, locks, fsync)
db = sqlite3.connect(os.path.join(work, "t.db")); db.execute("pragma journal_mode=wal")
db.execute("create table t(x)"); db.executemany("insert into t values(?)", [(i,) for i in range(100)]); db.commit()
assert db.execute("select sum(x) from t").fetchone()[0] == 4950; db.close(); done.append("sqlite3")
# files: copy (sendfile/copy_file_range), rename, links, chmod, utime, xattr-free copystat, locks
shutil.copy2(path, path + ".copy"); os.rename(path + ".copy", path + ".moved"); os.link(path, path + ".hard"); os.symlink(path, path + ".sym")
os.chmod(path, 0o640); os.utime(path, (0, 0)); os.mkfifo(os.path.join(work, "fifo"))
import fcntl
with open(path) as f: fcntl.flock(f, fcntl.LOCK_EX); fcntl.lockf(f, fcntl.LOCK_UN)
os.mkdir(os.path.join(work, "d"), 0o755); shutil.rmtree(work); done.append("files")
# misc: epoll, timers, signals, resource limits, TLS context, random
ep = select.epoll(); ep.close(); signal.setitimer(signal.ITIMER_REAL, 0); os.urandom(16); ssl.create_default_context()
resource.setrlimit(resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE)); os.sched_getaffinity(0); os.nice(1)
done.append("misc")
print("PY-OK " + " ".join(done))
`;

/** Everyday node work (worker_threads, child_process, fs, http over loopback); prints `NODE-OK <checks>`. */
export const NODE_WORKLOAD = String.raw`
const { Worker } = require('node:worker_threads');
const cp = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const zlib = require('node:zlib');
const dns = require('node:dns/promises');
(async () => {
  const done = [];
  const sum = await new Promise((resolve, reject) => {
    const w = new Worker('const { parentPort } = require("node:worker_threads"); parentPort.postMessage(6 * 7);', { eval: true });
    w.once('message', resolve); w.once('error', reject);
  });
  if (sum !== 42) throw new Error('worker');
  done.push('worker_threads');
  if (cp.execFileSync('/bin/sh', ['-c', 'echo child']).toString() !== 'child\n') throw new Error('execFileSync');
  await new Promise((resolve, reject) => cp.spawn('/bin/true').on('exit', (c) => (c === 0 ? resolve() : reject(new Error('spawn')))));
  done.push('child_process');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'n-'));
  const file = path.join(dir, 'f');
  fs.writeFileSync(file, crypto.randomBytes(4096));
  fs.copyFileSync(file, file + '.copy');
  fs.renameSync(file + '.copy', file + '.moved');
  fs.chmodSync(file, 0o600);
  fs.symlinkSync(file, file + '.sym');
  await fs.promises.readFile(file + '.sym');
  const watcher = fs.watch(dir); watcher.close();
  fs.rmSync(dir, { recursive: true });
  done.push('fs');
  const server = http.createServer((req, res) => res.end(zlib.gzipSync('pong')));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const body = await new Promise((resolve, reject) => http.get({ host: '127.0.0.1', port }, (res) => {
    const chunks = []; res.on('data', (c) => chunks.push(c)); res.on('end', () => resolve(zlib.gunzipSync(Buffer.concat(chunks)).toString()));
  }).on('error', reject));
  server.close();
  if (body !== 'pong') throw new Error('http');
  done.push('http');
  if (!Object.keys(os.networkInterfaces()).includes('lo')) throw new Error('networkInterfaces');
  await dns.lookup('localhost');
  if (os.cpus().length < 1 || os.totalmem() <= 0) throw new Error('os');
  done.push('os');
  console.log('NODE-OK ' + done.join(' '));
})().catch((e) => { console.error(e); process.exit(1); });
`;
