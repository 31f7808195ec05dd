/*
 * airlock-agent: the main process of a persistent sandbox.
 *
 * It runs inside the sandbox as the sandbox user, under the seccomp filter, capability sets,
 * rlimits and cgroup the runtime already applied, and never changes any of them: every command
 * it starts and every file operation it makes inherit the whole hardening floor. File paths are
 * resolved in the sandbox's own mount namespace, so no path (../, absolute, symlinks) can name a
 * host file the sandbox wasn't given.
 *
 * Commands run as the agent's own uid, so /proc/<pid> is how they would reach into the agent or
 * into each other; three controls close it (T27):
 *  - the agent is not dumpable (Linux then refuses /proc/<pid>/fd and /mem to same-uid callers);
 *  - every descriptor another process could reopen through /proc/<pid>/fd is a socket, which no
 *    open() can reopen (ENXIO): the control channel (checked at start) and each command's stdio.
 *    gVisor's /proc/<pid>/fd ignores dumpability, so this is what holds there;
 *  - each command runs in its own Landlock domain where the kernel has one (ABI 2+): Linux then
 *    refuses every ptrace-mode access (/proc/<pid>/mem, fd, environ) to processes outside that
 *    domain, the agent's and other commands' included. gVisor has no Landlock, but refuses
 *    /proc/<pid>/mem of a non-descendant itself (its Yama mode 1).
 * A command that can't be started exits 127 (not found) or 126 (not executable, or its isolation
 * could not be applied), with the reason on its stderr. EXEC and file requests that the agent
 * refuses get ERROR on their channel.
 *
 * Build: gcc -static-pie -O2 -Wall -Wextra -Werror (no dependency beyond libc; src/agent/build.ts).
 *
 * Protocol: frames on fd 0 (host -> agent) and fd 1 (agent -> host); fd 2 is diagnostics only.
 *   frame   = u8 type | u32 channel (LE) | u32 payload length (LE) | payload (at most 1 MiB)
 *   string  = u32 length (LE) | bytes (no NUL)
 * A malformed frame is a protocol error: ERROR on channel 0 (EPROTO), then exit status 2.
 *
 * Requests (host -> agent); the host picks a channel id per operation and never reuses it:
 *   0x01 EXEC        u8 flags (1 = stdin piped) | u32 argc | u32 envc | string cwd | argv | env
 *                    (env is the complete environment, "KEY=VALUE" strings) -> STARTED ... EXIT
 *   0x02 STDIN       bytes for the command's stdin                          -> STDIN_ACK(s)
 *                    (the host keeps at most 1 MiB unacknowledged; over 2 MiB queued is a protocol error)
 *   0x03 STDIN_EOF   closes the command's stdin once queued bytes are written
 *   0x04 SIGNAL      u32 signo: sent to the command's whole process group
 *   0x05 READ_FILE   u64 max bytes | path                                   -> DATA* END | ERROR
 *   0x06 WRITE_FILE  u32 mode | path, then WRITE_DATA* and WRITE_END        -> END | ERROR
 *   0x07 WRITE_DATA  bytes
 *   0x08 WRITE_END
 *   0x09 LIST        path                                                   -> ENTRY* END | ERROR
 *   0x0a STAT        path (a final symlink is not followed)                 -> ENTRY END | ERROR
 *   0x0b MKDIR       u32 mode | u8 parents | path                           -> END | ERROR
 *   0x0c REMOVE      u8 recursive | path (a final symlink is removed, not followed) -> END | ERROR
 *   0x0d PING                                                               -> PONG
 * Events (agent -> host):
 *   0x80 READY       u32 protocol version | u32 agent pid | u32 max payload (channel 0, once)
 *   0x81 STARTED     u32 pid
 *   0x82 STDOUT      bytes          0x83 STDERR bytes
 *   0x84 EXIT        u32 exit code | u32 signal (non-zero when killed by it; then code is 0)
 *   0x85 STDIN_ACK   u32 bytes taken off the command's stdin queue (written or discarded)
 *   0x86 DATA        bytes          0x87 END
 *   0x88 ERROR       u32 errno | message (UTF-8)
 *   0x89 ENTRY       u8 kind | u32 mode | u64 size | i64 mtime sec | u32 mtime nsec | name
 *   0x8a PONG
 * Frames for a channel that has ended are ignored (they may cross its last event on the wire).
 * A command's EXIT comes after its leader was reaped and both output pipes reached EOF, so it
 * follows every byte of its output. When fd 0 reaches EOF, every command's process group is
 * killed and the agent exits.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/landlock.h>
#include <linux/mount.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#define PROTOCOL_VERSION 1u
#define HDR 9u
#define MAX_PAYLOAD (1u << 20)
#define CHUNK 65536u
/* Above this many unsent output bytes, command output and file reads wait: back-pressure. */
#define OUT_HIGH_WATER (256u * 1024u)
/* A command's stdin queue may hold this much; the host keeps a smaller window (see STDIN_ACK). */
#define STDIN_QUEUE_MAX (2u << 20)
#define MAX_EXECS 256
#define MAX_JOBS 64
#define MAX_STRINGS 65536u
#define LIST_BATCH 64
#define REMOVE_DEPTH_MAX 256

enum {
  REQ_EXEC = 0x01, REQ_STDIN, REQ_STDIN_EOF, REQ_SIGNAL, REQ_READ_FILE, REQ_WRITE_FILE,
  REQ_WRITE_DATA, REQ_WRITE_END, REQ_LIST, REQ_STAT, REQ_MKDIR, REQ_REMOVE, REQ_PING,
};
enum {
  EV_READY = 0x80, EV_STARTED, EV_STDOUT, EV_STDERR, EV_EXIT, EV_STDIN_ACK, EV_DATA, EV_END,
  EV_ERROR, EV_ENTRY, EV_PONG,
};

struct buf {
  uint8_t *data;
  size_t head, len, cap; /* live bytes are data[head .. head+len) */
};

struct exec {
  uint32_t id;
  pid_t pid;
  int in_fd, out_fd, err_fd; /* -1 once closed */
  bool reaped, stdin_eof, finished;
  int status;
  struct buf stdin_q;
};

enum job_kind { JOB_READ, JOB_WRITE, JOB_LIST };

struct job {
  uint32_t id;
  enum job_kind kind;
  bool finished;
  int fd;          /* READ: the file; WRITE: the temp file */
  int dir_fd;      /* WRITE: the target's directory */
  DIR *dir;        /* LIST */
  uint64_t limit, done;
  char tmp[64];    /* WRITE: temp name in dir_fd */
  char *base;      /* WRITE: final name in dir_fd */
};

struct agent {
  struct buf in, out;
  int sig_fd;
  struct exec execs[MAX_EXECS];
  int nexecs;
  struct job jobs[MAX_JOBS];
  int njobs;
  unsigned tmp_seq;
  mode_t umask; /* the launcher's, restored for commands */
};

static void put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_u64(const uint8_t *p) {
  return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static void die(const char *what) {
  fprintf(stderr, "airlock-agent: %s: %s\n", what, strerror(errno));
  _exit(1);
}

/* Makes room for `extra` bytes after the live data; exits when memory runs out. */
static uint8_t *buf_reserve(struct buf *b, size_t extra) {
  if (b->len == 0) b->head = 0;
  if (b->head + b->len + extra <= b->cap) return b->data + b->head + b->len;
  if (b->head > 0) {
    memmove(b->data, b->data + b->head, b->len);
    b->head = 0;
  }
  if (b->len + extra > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) cap *= 2;
    uint8_t *data = realloc(b->data, cap);
    if (data == NULL) die("out of memory");
    b->data = data;
    b->cap = cap;
  }
  return b->data + b->len;
}
static void buf_consume(struct buf *b, size_t n) {
  b->head += n;
  b->len -= n;
  if (b->len == 0) b->head = 0;
}
static void buf_free(struct buf *b) {
  free(b->data);
  memset(b, 0, sizeof *b);
}

static void emit2(struct agent *a, uint8_t type, uint32_t id, const void *p1, size_t n1, const void *p2, size_t n2) {
  uint8_t *w = buf_reserve(&a->out, HDR + n1 + n2);
  w[0] = type;
  put_u32(w + 1, id);
  put_u32(w + 5, (uint32_t)(n1 + n2));
  if (n1) memcpy(w + HDR, p1, n1);
  if (n2) memcpy(w + HDR + n1, p2, n2);
  a->out.len += HDR + n1 + n2;
}
static void emit(struct agent *a, uint8_t type, uint32_t id, const void *p, size_t n) {
  emit2(a, type, id, p, n, NULL, 0);
}
static void emit_u32(struct agent *a, uint8_t type, uint32_t id, uint32_t v) {
  uint8_t p[4];
  put_u32(p, v);
  emit(a, type, id, p, 4);
}
static void emit_error(struct agent *a, uint32_t id, int err, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof msg) n = sizeof msg - 1;
  uint8_t e[4];
  put_u32(e, (uint32_t)err);
  emit2(a, EV_ERROR, id, e, 4, msg, (size_t)n);
}

static void kill_all(struct agent *a) {
  for (int i = 0; i < a->nexecs; i++) {
    struct exec *x = &a->execs[i];
    if (!x->finished && kill(-x->pid, SIGKILL) < 0 && !x->reaped) kill(x->pid, SIGKILL);
  }
}

/* The host is gone: nothing may outlive supervision, so every command's group dies with us. */
static void shutdown_agent(struct agent *a, int code) {
  kill_all(a);
  _exit(code);
}

/* Tries to send queued events; false when the host's end is gone. */
static bool flush_out(struct agent *a) {
  while (a->out.len > 0) {
    ssize_t n = write(1, a->out.data + a->out.head, a->out.len);
    if (n > 0) {
      buf_consume(&a->out, (size_t)n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;
  }
  return true;
}

/* A host that sends a malformed frame is not trusted further: say why, then exit. */
static void protocol_error(struct agent *a, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "airlock-agent: protocol error: %s\n", msg);
  emit_error(a, 0, EPROTO, "protocol error: %s", msg);
  kill_all(a);
  // Say why, but never hang on a host that stopped reading: SIGALRM ends the attempt.
  alarm(2);
  int fl = fcntl(1, F_GETFL);
  if (fl >= 0) fcntl(1, F_SETFL, fl & ~O_NONBLOCK);
  flush_out(a);
  _exit(2);
}

/*
 * Closes every descriptor from `lowest` up. Without close_range (gVisor 2022, kernels before 5.9)
 * the open ones are looked up in /proc/self/fd: trying every number up to RLIMIT_NOFILE costs
 * hundreds of syscalls, tens of milliseconds per command under gVisor. Returns false when only
 * that last resort was left, which misses descriptors above a limit lowered after they were opened.
 */
static bool close_from(int lowest) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, (unsigned)lowest, ~0u, 0u) == 0) return true;
#endif
  DIR *d = opendir("/proc/self/fd");
  if (d != NULL) {
    // Passes until one closes nothing: closing while listing must not let an entry slip by.
    for (bool closed = true; closed;) {
      closed = false;
      struct dirent *e;
      while ((e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end != 0 || end == e->d_name || fd < lowest || fd == dirfd(d)) continue;
        close((int)fd);
        closed = true;
      }
      rewinddir(d);
    }
    closedir(d);
    return true;
  }
  struct rlimit rl;
  long max = 1024;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) max = (long)rl.rlim_cur;
  if (max > 1 << 20) max = 1 << 20;
  for (long fd = lowest; fd < max; fd++) close((int)fd);
  return false;
}

static struct exec *find_exec(struct agent *a, uint32_t id) {
  for (int i = 0; i < a->nexecs; i++)
    if (a->execs[i].id == id && !a->execs[i].finished) return &a->execs[i];
  return NULL;
}
static struct job *find_job(struct agent *a, uint32_t id) {
  for (int i = 0; i < a->njobs; i++)
    if (a->jobs[i].id == id && !a->jobs[i].finished) return &a->jobs[i];
  return NULL;
}
static bool channel_busy(struct agent *a, uint32_t id) {
  if (id == 0 || find_exec(a, id) != NULL || find_job(a, id) != NULL) {
    emit_error(a, id, EBUSY, "channel %u is in use", id);
    return true;
  }
  return false;
}

/* ---- commands ---------------------------------------------------------------------------- */

struct reader {
  const uint8_t *p;
  size_t left;
};

/* A length-prefixed string as a fresh NUL-terminated copy; NULL if malformed. */
static char *read_string(struct reader *r) {
  if (r->left < 4) return NULL;
  uint32_t n = get_u32(r->p);
  if (n > r->left - 4 || memchr(r->p + 4, 0, n) != NULL) return NULL;
  char *s = malloc((size_t)n + 1);
  if (s == NULL) die("out of memory");
  memcpy(s, r->p + 4, n);
  s[n] = 0;
  r->p += 4 + (size_t)n;
  r->left -= 4 + (size_t)n;
  return s;
}

static void free_strings(char **v) {
  if (v == NULL) return;
  for (char **s = v; *s != NULL; s++) free(*s);
  free(v);
}

static char **read_strings(struct reader *r, uint32_t count) {
  char **v = calloc((size_t)count + 1, sizeof *v);
  if (v == NULL) die("out of memory");
  for (uint32_t i = 0; i < count; i++) {
    v[i] = read_string(r);
    if (v[i] == NULL) {
      free_strings(v);
      return NULL;
    }
  }
  return v;
}

/* execvpe with the command's own PATH (never the agent's); returns only on failure. */
static void exec_search(char **argv, char **envp) {
  const char *file = argv[0];
  if (strchr(file, '/') != NULL) {
    execve(file, argv, envp);
    return;
  }
  const char *path = "/usr/local/bin:/usr/bin:/bin";
  for (char **e = envp; *e != NULL; e++)
    if (strncmp(*e, "PATH=", 5) == 0) path = *e + 5;
  bool eacces = false;
  char full[PATH_MAX];
  for (const char *p = path;; p++) {
    const char *end = strchrnul(p, ':');
    size_t dlen = (size_t)(end - p);
    const char *dir = dlen == 0 ? "." : p;
    if (dlen == 0) dlen = 1;
    if (dlen + 1 + strlen(file) < sizeof full) {
      memcpy(full, dir, dlen);
      full[dlen] = '/';
      strcpy(full + dlen + 1, file);
      execve(full, argv, envp);
      if (errno == EACCES) eacces = true;
      else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE) return;
    }
    if (*end == 0) break;
    p = end;
  }
  errno = eacces ? EACCES : ENOENT;
}

/* Runs CMD (exec_search); on failure says why and returns the shell's status: 126 not executable, 127 not found. */
static int exec_command(char **cmd, char **envp) {
  exec_search(cmd, envp);
  int err = errno;
  /* The same words on every runtime for a command that can't start (see exec-failure.ts). */
  dprintf(2, "airlock: %s: %s\n", cmd[0], strerror(err));
  return err == EACCES ? 126 : 127;
}

/*
 * In the command's child: puts it in a Landlock domain of its own. The domain restricts no
 * file access (REFER, which every domain otherwise denies, is granted on the whole tree, and only
 * block-device creation, impossible without capabilities anyway, is handled), but Linux refuses
 * ptrace-mode access from inside a domain to any process outside it: another command's
 * /proc/<pid>/mem, fd and environ, and the agent's. Signals are not scoped, so a later command may
 * still stop a server an earlier one started. Returns 0, or an errno naming why it failed; no
 * Landlock at all (gVisor, older kernels) and ABI 1, which can't grant REFER, count as success.
 */
static int isolate_command(void) {
  long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi < 0) return errno == ENOSYS || errno == EOPNOTSUPP ? 0 : errno;
  if (abi < 2) return 0;
  // Landlock requires no_new_privs; every runtime already sets it, this only makes it explicit.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return errno;
  struct landlock_ruleset_attr attr = {.handled_access_fs = LANDLOCK_ACCESS_FS_REFER | LANDLOCK_ACCESS_FS_MAKE_BLOCK};
  int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
  if (ruleset < 0) return errno;
  int err = 0;
  struct landlock_path_beneath_attr everything = {.allowed_access = LANDLOCK_ACCESS_FS_REFER, .parent_fd = open("/", O_PATH | O_CLOEXEC)};
  if (everything.parent_fd < 0 || syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &everything, 0) < 0 ||
      syscall(SYS_landlock_restrict_self, ruleset, 0) < 0) {
    err = errno;
  }
  if (everything.parent_fd >= 0) close(everything.parent_fd);
  close(ruleset);
  return err;
}

/*
 * The command's side of a vfork: it shares the agent's memory until the exec, so it writes nothing
 * but its own locals, and never returns (exec or _exit). The /proc fallback of close_from allocates
 * and frees again: safe because the agent is single-threaded, so no allocator lock is held across
 * the vfork.
 */
static void child_exec(const struct agent *a, int in_fd, int out_fd, int err_fd, const char *cwd, char **argv, char **envp) {
  sigset_t none;
  sigemptyset(&none);
  // The agent blocks SIGCHLD and ignores SIGPIPE; a command starts with neither.
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  umask(a->umask);
  // Own session and process group: SIGNAL reaches every process the command starts.
  setsid();
  if (in_fd < 0) in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (in_fd < 0 || dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) _exit(127);
  // Nothing of the agent (its protocol channel above all) may leak into a command.
  close_from(3);
  // Fail closed: a command that can't be kept out of the agent and the other commands never runs.
  int isolation = isolate_command();
  if (isolation != 0) {
    dprintf(2, "airlock-agent: cannot isolate the command (landlock): %s\n", strerror(isolation));
    _exit(126);
  }
  if (chdir(cwd) < 0) {
    dprintf(2, "airlock-agent: cannot enter %s: %s\n", cwd, strerror(errno));
    _exit(127);
  }
  exec_search(argv, envp);
  int err = errno;
  dprintf(2, "airlock: %s: %s\n", argv[0], strerror(err));
  _exit(err == ENOENT || err == ENOTDIR ? 127 : 126);
}

static void set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) die("fcntl");
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* A connected stream socket pair used like a pipe: [0] the reading end, [1] the writing end. */
static int stdio_pair(int fds[2]) {
  return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
}

static void start_exec(struct agent *a, uint32_t id, const uint8_t *p, size_t n) {
  if (n < 9) protocol_error(a, "EXEC payload too short");
  uint8_t flags = p[0];
  uint32_t argc = get_u32(p + 1), envc = get_u32(p + 5);
  if (argc < 1 || argc > MAX_STRINGS || envc > MAX_STRINGS) protocol_error(a, "EXEC argc/envc out of range");
  struct reader r = {p + 9, n - 9};
  char *cwd = read_string(&r);
  char **argv = cwd ? read_strings(&r, argc) : NULL;
  char **envp = argv ? read_strings(&r, envc) : NULL;
  if (envp == NULL || r.left != 0) protocol_error(a, "malformed EXEC payload");
  int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1};
  if (channel_busy(a, id)) goto out;
  if (a->nexecs >= MAX_EXECS) {
    emit_error(a, id, EAGAIN, "too many running commands (%d)", MAX_EXECS);
    goto out;
  }
  // Socket pairs, not pipes: a pipe end can be reopened through /proc/<pid>/fd by any process that
  // passes the runtime's check there (on gVisor, every process), and a background process of
  // another command could then write into this command's output. A socket can't be reopened.
  if (((flags & 1) && stdio_pair(pin) < 0) || stdio_pair(pout) < 0 || stdio_pair(perr) < 0) {
    emit_error(a, id, errno, "cannot create the command's stdio: %s", strerror(errno));
    goto out;
  }
  // vfork, as in run_init: gVisor's kernel would copy the agent's address space only for the exec
  // to discard it. child_exec changes only its own descriptors, mask, session and credentials.
  pid_t pid = vfork();
  if (pid < 0) {
    emit_error(a, id, errno, "cannot start the command: %s", strerror(errno));
    goto out;
  }
  if (pid == 0) child_exec(a, pin[0], pout[1], perr[1], cwd, argv, envp);
  // One direction each, as pipes: the command can't write into its stdin or read from its output.
  if (pin[1] >= 0) shutdown(pin[1], SHUT_RD);
  shutdown(pout[0], SHUT_WR);
  shutdown(perr[0], SHUT_WR);
  struct exec *x = &a->execs[a->nexecs++];
  memset(x, 0, sizeof *x);
  x->id = id;
  x->pid = pid;
  x->in_fd = pin[1];
  x->out_fd = pout[0];
  x->err_fd = perr[0];
  pin[1] = pout[0] = perr[0] = -1;
  if (x->in_fd >= 0) set_nonblock(x->in_fd);
  set_nonblock(x->out_fd);
  set_nonblock(x->err_fd);
  emit_u32(a, EV_STARTED, id, (uint32_t)pid);
out:
  for (int i = 0; i < 2; i++) {
    close_fd(&pin[i]);
    close_fd(&pout[i]);
    close_fd(&perr[i]);
  }
  free(cwd);
  free_strings(argv);
  free_strings(envp);
}

static void maybe_finish_exec(struct agent *a, struct exec *x) {
  if (x->finished || !x->reaped || x->out_fd >= 0 || x->err_fd >= 0) return;
  uint8_t p[8];
  put_u32(p, WIFEXITED(x->status) ? (uint32_t)WEXITSTATUS(x->status) : 0);
  put_u32(p + 4, WIFSIGNALED(x->status) ? (uint32_t)WTERMSIG(x->status) : 0);
  emit(a, EV_EXIT, x->id, p, 8);
  close_fd(&x->in_fd);
  buf_free(&x->stdin_q);
  x->finished = true;
}

static void drop_stdin(struct agent *a, struct exec *x) {
  if (x->stdin_q.len > 0) emit_u32(a, EV_STDIN_ACK, x->id, (uint32_t)x->stdin_q.len);
  buf_free(&x->stdin_q);
  close_fd(&x->in_fd);
}

static void write_stdin(struct agent *a, struct exec *x) {
  while (x->in_fd >= 0 && x->stdin_q.len > 0) {
    ssize_t n = write(x->in_fd, x->stdin_q.data + x->stdin_q.head, x->stdin_q.len);
    if (n > 0) {
      buf_consume(&x->stdin_q, (size_t)n);
      emit_u32(a, EV_STDIN_ACK, x->id, (uint32_t)n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    } else {
      drop_stdin(a, x); /* EPIPE: the command closed its stdin; what it didn't read is discarded */
    }
  }
  if (x->stdin_eof && x->stdin_q.len == 0) close_fd(&x->in_fd);
}

static void on_stdin(struct agent *a, uint32_t id, const uint8_t *p, size_t n) {
  struct exec *x = find_exec(a, id);
  if (x == NULL) return;
  if (x->in_fd < 0) {
    if (n > 0) emit_u32(a, EV_STDIN_ACK, id, (uint32_t)n);
    return;
  }
  // The host keeps a window below this: a host that overruns it is broken.
  if (x->stdin_q.len + n > STDIN_QUEUE_MAX) protocol_error(a, "stdin window overrun on channel %u", id);
  memcpy(buf_reserve(&x->stdin_q, n), p, n);
  x->stdin_q.len += n;
  write_stdin(a, x);
}

static void on_signal(struct agent *a, uint32_t id, const uint8_t *p, size_t n) {
  if (n != 4) protocol_error(a, "SIGNAL payload must be 4 bytes");
  uint32_t sig = get_u32(p);
  if (sig < 1 || sig > 64) protocol_error(a, "signal %u out of range", sig);
  struct exec *x = find_exec(a, id);
  if (x == NULL) return;
  // The whole group; before the child's setsid() it has no group yet, so the child itself.
  if (kill(-x->pid, (int)sig) < 0 && !x->reaped) kill(x->pid, (int)sig);
}

/* Reads once from a command's stdout/stderr straight into an outgoing frame. */
static void read_output(struct agent *a, struct exec *x, int *fd, uint8_t type) {
  uint8_t *w = buf_reserve(&a->out, HDR + CHUNK);
  ssize_t n = read(*fd, w + HDR, CHUNK);
  if (n > 0) {
    w[0] = type;
    put_u32(w + 1, x->id);
    put_u32(w + 5, (uint32_t)n);
    a->out.len += HDR + (size_t)n;
    return;
  }
  if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) return;
  close_fd(fd);
  maybe_finish_exec(a, x);
}

static void reap(struct agent *a) {
  struct signalfd_siginfo si;
  while (read(a->sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
  }
  int status;
  pid_t pid;
  // Every child, commands and (when we are the namespace's init) adopted orphans alike.
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < a->nexecs; i++) {
      struct exec *x = &a->execs[i];
      if (x->pid != pid || x->reaped || x->finished) continue;
      x->reaped = true;
      x->status = status;
      maybe_finish_exec(a, x);
    }
  }
}

/* ---- files ------------------------------------------------------------------------------- */

/* A request's path as a NUL-terminated string in `out`; false (ERROR sent) if it is unusable. */
static bool get_path(struct agent *a, uint32_t id, const uint8_t *p, size_t n, char out[PATH_MAX]) {
  if (n == 0 || memchr(p, 0, n) != NULL) {
    emit_error(a, id, EINVAL, "invalid path");
    return false;
  }
  if (n >= PATH_MAX) {
    emit_error(a, id, ENAMETOOLONG, "path too long");
    return false;
  }
  memcpy(out, p, n);
  out[n] = 0;
  return true;
}

static struct job *new_job(struct agent *a, uint32_t id, enum job_kind kind) {
  if (channel_busy(a, id)) return NULL;
  if (a->njobs >= MAX_JOBS) {
    emit_error(a, id, EAGAIN, "too many file operations in progress (%d)", MAX_JOBS);
    return NULL;
  }
  struct job *j = &a->jobs[a->njobs++];
  memset(j, 0, sizeof *j);
  j->id = id;
  j->kind = kind;
  j->fd = j->dir_fd = -1;
  return j;
}

static void end_job(struct job *j) {
  close_fd(&j->fd);
  close_fd(&j->dir_fd);
  if (j->dir != NULL) closedir(j->dir);
  j->dir = NULL;
  free(j->base);
  j->base = NULL;
  j->finished = true;
}

static void emit_entry(struct agent *a, uint32_t id, const struct stat *st, const char *name) {
  char kind = S_ISREG(st->st_mode) ? 'f' : S_ISDIR(st->st_mode) ? 'd' : S_ISLNK(st->st_mode) ? 'l'
            : S_ISCHR(st->st_mode) ? 'c' : S_ISBLK(st->st_mode) ? 'b' : S_ISFIFO(st->st_mode) ? 'p'
            : S_ISSOCK(st->st_mode) ? 's' : '?';
  uint8_t e[25];
  e[0] = (uint8_t)kind;
  put_u32(e + 1, (uint32_t)(st->st_mode & 07777));
  put_u64(e + 5, (uint64_t)st->st_size);
  put_u64(e + 13, (uint64_t)st->st_mtim.tv_sec);
  put_u32(e + 21, (uint32_t)st->st_mtim.tv_nsec);
  emit2(a, EV_ENTRY, id, e, sizeof e, name, strlen(name));
}

static void start_read(struct agent *a, uint32_t id, const uint8_t *p, size_t n) {
  char path[PATH_MAX];
  if (n < 8) protocol_error(a, "READ_FILE payload too short");
  if (!get_path(a, id, p + 8, n - 8, path)) return;
  struct job *j = new_job(a, id, JOB_READ);
  if (j == NULL) return;
  j->limit = get_u64(p);
  // O_NONBLOCK: opening a FIFO must not stall the agent; O_NOCTTY: never acquire a terminal.
  j->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  struct stat st;
  if (j->fd < 0 || fstat(j->fd, &st) < 0) {
    emit_error(a, id, errno, "%s: %s", path, strerror(errno));
  } else if (S_ISDIR(st.st_mode)) {
    emit_error(a, id, EISDIR, "%s: is a directory", path);
  } else if (!S_ISREG(st.st_mode)) {
    // Devices and FIFOs can be endless or block forever: only regular files are read.
    emit_error(a, id, EINVAL, "%s: not a regular file", path);
  } else if ((uint64_t)st.st_size > j->limit) {
    emit_error(a, id, EFBIG, "%s: %lld bytes exceed the limit of %llu", path, (long long)st.st_size,
               (unsigned long long)j->limit);
  } else {
    return;
  }
  end_job(j);
}

static void step_read(struct agent *a, struct job *j) {
  uint8_t *w = buf_reserve(&a->out, HDR + CHUNK);
  ssize_t n = read(j->fd, w + HDR, CHUNK);
  if (n < 0 && errno == EINTR) return;
  if (n < 0) {
    emit_error(a, j->id, errno, "read: %s", strerror(errno));
  } else if (n == 0) {
    emit(a, EV_END, j->id, NULL, 0);
  } else if (j->done + (uint64_t)n > j->limit) {
    // The file grew past the limit while being read: the limit still holds.
    emit_error(a, j->id, EFBIG, "file exceeds the limit of %llu bytes", (unsigned long long)j->limit);
  } else {
    j->done += (uint64_t)n;
    w[0] = EV_DATA;
    put_u32(w + 1, j->id);
    put_u32(w + 5, (uint32_t)n);
    a->out.len += HDR + (size_t)n;
    return;
  }
  end_job(j);
}

static void start_write(struct agent *a, uint32_t id, const uint8_t *p, size_t n) {
  char path[PATH_MAX];
  if (n < 4) protocol_error(a, "WRITE_FILE payload too short");
  if (!get_path(a, id, p + 4, n - 4, path)) return;
  struct job *j = new_job(a, id, JOB_WRITE);
  if (j == NULL) return;
  // Plain permission bits only: setuid/setgid/sticky have no business on an uploaded file.
  j->limit = get_u32(p) & 0777;
  char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  if (*base == 0 || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
    emit_error(a, id, EISDIR, "%s: is a directory", path);
    end_job(j);
    return;
  }
  j->base = strdup(base);
  if (j->base == NULL) die("out of memory");
  if (slash == path) slash[1] = 0;
  else if (slash != NULL) *slash = 0;
  // O_PATH: a directory the user may write to but not list still works.
  j->dir_fd = open(slash ? path : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (j->dir_fd < 0) {
    emit_error(a, id, errno, "%s: %s", path, strerror(errno));
    end_job(j);
    return;
  }
  snprintf(j->tmp, sizeof j->tmp, ".airlock-%u-%u.tmp", id, ++a->tmp_seq);
  // A fresh temp file, never an existing one and never through a symlink; renamed over the
  // target at the end, so a symlink at the final component is replaced, not followed.
  j->fd = openat(j->dir_fd, j->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (j->fd < 0) {
    emit_error(a, id, errno, "%s: %s", j->base, strerror(errno));
    end_job(j);
  }
}

static void abort_write(struct agent *a, struct job *j, int err, const char *what) {
  emit_error(a, j->id, err, "%s: %s", what, strerror(err));
  close_fd(&j->fd);
  unlinkat(j->dir_fd, j->tmp, 0);
  end_job(j);
}

static void write_data(struct agent *a, uint32_t id, const uint8_t *p, size_t n) {
  struct job *j = find_job(a, id);
  if (j == NULL || j->kind != JOB_WRITE) return;
  while (n > 0) {
    ssize_t w = write(j->fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      abort_write(a, j, errno, "write");
      return;
    }
    p += w;
    n -= (size_t)w;
  }
}

static void write_end(struct agent *a, uint32_t id) {
  struct job *j = find_job(a, id);
  if (j == NULL || j->kind != JOB_WRITE) return;
  // The scratch filesystem is a tmpfs, so there is nothing to fsync before the rename.
  if (fchmod(j->fd, (mode_t)j->limit) < 0) {
    abort_write(a, j, errno, "chmod");
    return;
  }
  int fd = j->fd;
  j->fd = -1;
  if (close(fd) < 0) {
    abort_write(a, j, errno, "close");
    return;
  }
  if (renameat(j->dir_fd, j->tmp, j->dir_fd, j->base) < 0) {
    abort_write(a, j, errno, j->base);
    return;
  }
  emit(a, EV_END, id, NULL, 0);
  end_job(j);
}

static void start_list(struct agent *a, uint32_t id, const uint8_t *p, size_t n) {
  char path[PATH_MAX];
  if (!get_path(a, id, p, n, path)) return;
  struct job *j = new_job(a, id, JOB_LIST);
  if (j == NULL) return;
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) j->dir = fdopendir(fd);
  if (j->dir == NULL) {
    emit_error(a, id, errno, "%s: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
    end_job(j);
  }
}

static void step_list(struct agent *a, struct job *j) {
  for (int i = 0; i < LIST_BATCH; i++) {
    errno = 0;
    struct dirent *e = readdir(j->dir);
    if (e == NULL) {
      if (errno != 0) emit_error(a, j->id, errno, "readdir: %s", strerror(errno));
      else emit(a, EV_END, j->id, NULL, 0);
      end_job(j);
      return;
    }
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    struct stat st;
    // Entries describe themselves: a symlink is listed as a symlink, never followed.
    if (fstatat(dirfd(j->dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) emit_entry(a, j->id, &st, e->d_name);
  }
}

static bool jobs_pending(struct agent *a) {
  for (int i = 0; i < a->njobs; i++)
    if (!a->jobs[i].finished && a->jobs[i].kind != JOB_WRITE) return true;
  return false;
}

/* One step of every read and listing, while the host keeps up with what was sent. */
static void run_jobs(struct agent *a) {
  for (int i = 0; i < a->njobs && a->out.len < OUT_HIGH_WATER; i++) {
    struct job *j = &a->jobs[i];
    if (j->finished) continue;
    if (j->kind == JOB_READ) step_read(a, j);
    else if (j->kind == JOB_LIST) step_list(a, j);
  }
}

static void do_stat(struct agent *a, uint32_t id, const uint8_t *p, size_t n) {
  char path[PATH_MAX];
  if (!get_path(a, id, p, n, path)) return;
  struct stat st;
  if (fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    emit_error(a, id, errno, "%s: %s", path, strerror(errno));
    return;
  }
  const char *slash = strrchr(path, '/');
  emit_entry(a, id, &st, slash && slash[1] ? slash + 1 : path);
  emit(a, EV_END, id, NULL, 0);
}

static void do_mkdir(struct agent *a, uint32_t id, const uint8_t *p, size_t n) {
  char path[PATH_MAX];
  if (n < 5) protocol_error(a, "MKDIR payload too short");
  if (!get_path(a, id, p + 5, n - 5, path)) return;
  mode_t mode = get_u32(p) & 01777;
  bool parents = p[4] != 0;
  for (char *s = path + 1; parents && *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    int r = mkdir(path, 0755);
    *s = '/';
    if (r < 0 && errno != EEXIST) {
      emit_error(a, id, errno, "%s: %s", path, strerror(errno));
      return;
    }
  }
  struct stat st;
  if (mkdir(path, mode) < 0) {
    int err = errno;
    if (!(err == EEXIST && parents && stat(path, &st) == 0 && S_ISDIR(st.st_mode))) {
      emit_error(a, id, err, "%s: %s", path, strerror(err));
      return;
    }
  }
  emit(a, EV_END, id, NULL, 0);
}

/* Removes `name` in `dfd`; a directory only when `recursive` or empty. Symlinks are never followed. */
static int remove_at(int dfd, const char *name, bool recursive, int depth) {
  if (unlinkat(dfd, name, 0) == 0) return 0;
  int first = errno;
  if (first != EISDIR && first != EPERM) return -1;
  if (!recursive || depth >= REMOVE_DEPTH_MAX) {
    if (unlinkat(dfd, name, AT_REMOVEDIR) == 0) return 0;
    if (errno == ENOTDIR) errno = first;
    return -1;
  }
  // O_NOFOLLOW: a symlink swapped in for a directory is removed, never descended into.
  int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOTDIR) errno = first;
    return -1;
  }
  DIR *d = fdopendir(fd);
  if (d == NULL) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  for (bool removed = true; removed;) {
    removed = false;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      if (remove_at(dirfd(d), e->d_name, true, depth + 1) < 0) {
        int err = errno;
        closedir(d);
        errno = err;
        return -1;
      }
      removed = true;
    }
    rewinddir(d);
  }
  closedir(d);
  return unlinkat(dfd, name, AT_REMOVEDIR);
}

static void do_remove(struct agent *a, uint32_t id, const uint8_t *p, size_t n) {
  char path[PATH_MAX];
  if (n < 1) protocol_error(a, "REMOVE payload too short");
  if (!get_path(a, id, p + 1, n - 1, path)) return;
  if (remove_at(AT_FDCWD, path, p[0] != 0, 0) < 0) emit_error(a, id, errno, "%s: %s", path, strerror(errno));
  else emit(a, EV_END, id, NULL, 0);
}

/* ---- dispatch and main loop ------------------------------------------------------------- */

static void dispatch(struct agent *a, uint8_t type, uint32_t id, const uint8_t *p, size_t n) {
  switch (type) {
    case REQ_EXEC: start_exec(a, id, p, n); break;
    case REQ_STDIN: on_stdin(a, id, p, n); break;
    case REQ_STDIN_EOF: {
      struct exec *x = find_exec(a, id);
      if (x != NULL) {
        x->stdin_eof = true;
        write_stdin(a, x);
      }
      break;
    }
    case REQ_SIGNAL: on_signal(a, id, p, n); break;
    case REQ_READ_FILE: start_read(a, id, p, n); break;
    case REQ_WRITE_FILE: start_write(a, id, p, n); break;
    case REQ_WRITE_DATA: write_data(a, id, p, n); break;
    case REQ_WRITE_END: write_end(a, id); break;
    case REQ_LIST: start_list(a, id, p, n); break;
    case REQ_STAT: do_stat(a, id, p, n); break;
    case REQ_MKDIR: do_mkdir(a, id, p, n); break;
    case REQ_REMOVE: do_remove(a, id, p, n); break;
    case REQ_PING: emit(a, EV_PONG, id, NULL, 0); break;
    default: protocol_error(a, "unknown request type 0x%02x", type);
  }
}

static void read_input(struct agent *a) {
  uint8_t *w = buf_reserve(&a->in, 4 * CHUNK);
  ssize_t n = read(0, w, 4 * CHUNK);
  if (n == 0) shutdown_agent(a, 0);
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) return;
    shutdown_agent(a, 1);
  }
  a->in.len += (size_t)n;
  while (a->in.len >= HDR) {
    const uint8_t *f = a->in.data + a->in.head;
    uint32_t plen = get_u32(f + 5);
    if (f[0] < REQ_EXEC || f[0] > REQ_PING) protocol_error(a, "unknown request type 0x%02x", f[0]);
    if (plen > MAX_PAYLOAD) protocol_error(a, "payload of %u bytes exceeds %u", plen, MAX_PAYLOAD);
    if (a->in.len < HDR + plen) break;
    dispatch(a, f[0], get_u32(f + 1), f + HDR, plen);
    buf_consume(&a->in, HDR + plen);
  }
}

/* Drops finished commands and jobs from the tables (only between loop iterations). */
static void sweep(struct agent *a) {
  int k = 0;
  for (int i = 0; i < a->nexecs; i++)
    if (!a->execs[i].finished) a->execs[k++] = a->execs[i];
  a->nexecs = k;
  k = 0;
  for (int i = 0; i < a->njobs; i++)
    if (!a->jobs[i].finished) a->jobs[k++] = a->jobs[i];
  a->njobs = k;
}

enum ref_kind { REF_IN, REF_SIG, REF_OUT, REF_X_IN, REF_X_OUT, REF_X_ERR };

/*
 * `airlock-agent --init -- CMD ARGS...`: pid 1 for a one-shot command in a runtime without an init
 * of its own (gVisor runs the workload itself as pid 1, where Linux ignores signals it sends itself
 * and nothing reaps orphans). Runs CMD as a child with the inherited environment and descriptors,
 * forwards termination signals to it, reaps every orphan, and exits with CMD's status: its exit
 * code, or 128+N when signal N ended it (as a shell reports it).
 */
static int run_init(char **cmd, char **envp) {
  if (cmd[0] == NULL) {
    dprintf(2, "airlock-agent: --init needs a command\n");
    return 127;
  }
  static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
  sigset_t wait_set, old;
  sigemptyset(&wait_set);
  sigaddset(&wait_set, SIGCHLD);
  for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) sigaddset(&wait_set, forwarded[i]);
  if (sigprocmask(SIG_BLOCK, &wait_set, &old) < 0) die("sigprocmask");
  // Why vfork: gVisor's kernel copies an address space on fork, and the exec that follows discards
  // it (about 5 ms of a one-shot under ptrace). The child only resets its mask and execs; it writes
  // nothing the suspended parent reads.
  pid_t child = vfork();
  if (child < 0) die("vfork");
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    _exit(exec_command(cmd, envp));
  }
  for (;;) {
    int sig = 0;
    if (sigwait(&wait_set, &sig) != 0) continue;
    if (sig != SIGCHLD) {
      kill(child, sig);
      continue;
    }
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid != child) continue;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    }
  }
}

/* Sets resource limit `what` (soft and hard) to `value`; false with errno when the kernel refuses. */
static bool set_limit(int what, rlim_t value) {
  struct rlimit lim = {.rlim_cur = value, .rlim_max = value};
  return setrlimit(what, &lim) == 0;
}

/*
 * `airlock-agent --close-fds-from N [--nofile LIMIT] [--no-core] [--die-with-parent PID] --
 * /PROGRAM ARGS...`: runs on the host as the first program of every runtime launch (bwrap, runsc),
 * closes every descriptor from N up, then execs PROGRAM (an absolute path) with the inherited
 * environment. Node's spawn sets up only the descriptors it is given: any other the controller
 * inherited without close-on-exec would pass through the runtime into the sandbox (CVE-2024-21626
 * class). `--nofile` sets RLIMIT_NOFILE
 * and `--no-core` RLIMIT_CORE to 0, soft and hard, for PROGRAM and all it runs: the limits bwrap
 * doesn't set, applied here rather than by a process of their own. `--die-with-parent` has PROGRAM
 * killed when its parent (the controller, PID) dies, and refuses to run it when that parent is
 * already gone. Fails closed: when the descriptors can't be closed for certain, or a limit or the
 * parent-death signal can't be set, PROGRAM never runs (exit 126; the controller matches the
 * message's start).
 */
static int run_closing_fds(char **args, char **envp) {
  char *end;
  errno = 0;
  long lowest = strtol(args[0], &end, 10);
  bool usable = errno == 0 && *end == 0 && end != args[0] && lowest >= 3 && lowest <= INT_MAX;
  long nofile = -1;
  long parent = -1;
  bool no_core = false;
  int i = 1;
  for (; usable && args[i] != NULL && strcmp(args[i], "--") != 0; i++) {
    if (strcmp(args[i], "--no-core") == 0) {
      no_core = true;
    } else if (strcmp(args[i], "--nofile") == 0 && args[i + 1] != NULL) {
      errno = 0;
      nofile = strtol(args[++i], &end, 10);
      usable = errno == 0 && *end == 0 && end != args[i] && nofile >= 1 && nofile <= INT_MAX;
    } else if (strcmp(args[i], "--die-with-parent") == 0 && args[i + 1] != NULL) {
      errno = 0;
      parent = strtol(args[++i], &end, 10);
      usable = errno == 0 && *end == 0 && end != args[i] && parent >= 2 && parent <= INT_MAX;
    } else {
      usable = false;
    }
  }
  char **cmd = usable && args[i] != NULL ? args + i + 1 : NULL;
  if (cmd == NULL || cmd[0] == NULL || cmd[0][0] != '/') {
    dprintf(2, "airlock-agent: cannot close inherited descriptors: usage: --close-fds-from N (3 or more) [--nofile LIMIT] [--no-core] [--die-with-parent PID] -- /PROGRAM ARGS...\n");
    return 126;
  }
  if (!close_from((int)lowest)) {
    dprintf(2, "airlock-agent: cannot close inherited descriptors: neither close_range nor /proc/self/fd is available\n");
    return 126;
  }
  // Why no core: a crash must not hand the sandbox's memory to the host's core_pattern helper.
  if (no_core && !set_limit(RLIMIT_CORE, 0)) {
    dprintf(2, "airlock-agent: cannot set resource limits: RLIMIT_CORE 0: %s\n", strerror(errno));
    return 126;
  }
  if (nofile > 0 && !set_limit(RLIMIT_NOFILE, (rlim_t)nofile)) {
    dprintf(2, "airlock-agent: cannot set resource limits: RLIMIT_NOFILE %ld: %s\n", nofile, strerror(errno));
    return 126;
  }
  // Why: a runtime whose controller died would run on unsupervised (no limits watched, no teardown).
  if (parent > 0 && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
    dprintf(2, "airlock-agent: cannot tie the runtime to its controller: PR_SET_PDEATHSIG: %s\n", strerror(errno));
    return 126;
  }
  // Checked after the signal is set: a parent that died before it would never send it.
  if (parent > 0 && getppid() != (pid_t)parent) {
    dprintf(2, "airlock-agent: cannot tie the runtime to its controller: its controller (pid %ld) is gone\n", parent);
    return 126;
  }
  execve(cmd[0], cmd, envp);
  dprintf(2, "airlock-agent: cannot run %s: %s\n", cmd[0], strerror(errno));
  return 127;
}

/*
 * `airlock-agent --no-thp -- /PROGRAM ARGS...`: turns transparent huge pages off for this process
 * and everything it runs (PR_SET_THP_DISABLE is inherited and kept across exec), then execs
 * PROGRAM. For an emulated (TCG) VMM: with huge pages, a guest page restored or touched anywhere in
 * a 2 MiB region makes the host back the whole region. Exit 126 when the kernel refuses.
 */
static int run_without_thp(char **cmd, char **envp) {
  if (cmd[0] == NULL || cmd[0][0] != '/') {
    dprintf(2, "airlock-agent: no-thp: usage: --no-thp -- /PROGRAM ARGS...\n");
    return 126;
  }
  if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) < 0) {
    dprintf(2, "airlock-agent: no-thp: prctl(PR_SET_THP_DISABLE): %s\n", strerror(errno));
    return 126;
  }
  execve(cmd[0], cmd, envp);
  dprintf(2, "airlock-agent: cannot run %s: %s\n", cmd[0], strerror(errno));
  return 127;
}

/*
 * `airlock-agent --apparmor-stack PROFILE -- CMD ARGS...`: the first program bwrap runs in a
 * namespace sandbox where the host has AppArmor. Asks the kernel to stack PROFILE onto this
 * process's confinement at its next exec (/proc/self/attr/apparmor/exec), then execs CMD, which
 * therefore starts confined; everything it runs inherits the profile. bwrap itself is never
 * confined: it needs mounts and a user namespace to build the sandbox. From unconfined the request
 * is "exec PROFILE" (the label is then PROFILE alone); from a confined task (a distribution's bwrap
 * profile, e.g. Ubuntu 25.04's) it is "stack PROFILE": under no_new_privs Linux allows a confined
 * task only a stack, which keeps every rule of both.
 * Fails closed: when the request is refused (profile not loaded, no AppArmor), CMD never runs
 * (exit 126, message starting "airlock-agent: apparmor: ", which the controller matches).
 */
static int run_apparmor_stacked(const char *profile, char **cmd, char **envp) {
  if (cmd[0] == NULL || profile[0] == 0 || strlen(profile) > 128 || strspn(profile, "abcdefghijklmnopqrstuvwxyz0123456789-_") != strlen(profile)) {
    dprintf(2, "airlock-agent: apparmor: usage: --apparmor-stack PROFILE -- CMD ARGS...\n");
    return 126;
  }
  // The AppArmor-specific interface first (Linux 5.8+): /proc/self/attr/exec may belong to another LSM.
  const char *dir = access("/proc/self/attr/apparmor/exec", F_OK) == 0 ? "/proc/self/attr/apparmor" : "/proc/self/attr";
  char path[64], current[256] = {0};
  snprintf(path, sizeof path, "%s/current", dir);
  int cfd = open(path, O_RDONLY | O_CLOEXEC);
  if (cfd >= 0) {
    ssize_t n = read(cfd, current, sizeof current - 1);
    (void)n;
    close(cfd);
  }
  bool unconfined = strncmp(current, "unconfined", 10) == 0 && (current[10] == 0 || current[10] == '\n' || current[10] == ' ');
  char request[160];
  int len = snprintf(request, sizeof request, "%s %s", unconfined ? "exec" : "stack", profile);
  snprintf(path, sizeof path, "%s/exec", dir);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, request, (size_t)len) != len) {
    dprintf(2, "airlock-agent: apparmor: cannot confine the command in profile %s: %s\n", profile, strerror(errno));
    return 126;
  }
  close(fd);
  return exec_command(cmd, envp);
}

/*
 * --seccomp-log FD -- CMD...: loads the program read from FD (the sandbox's own filter, as bwrap
 * loaded it) a second time with SECCOMP_FILTER_FLAG_LOG, then runs CMD. Why: bwrap can't set the
 * flag, and the kernel audits an ERRNO denial only when the filter that decided it asked for it;
 * with equal actions the newest filter decides, so every denial is now audited, no decision changes.
 */
static int run_seccomp_logged(const char *fd_text, char **cmd, char **envp) {
  int fd = atoi(fd_text);
  static struct sock_filter prog[BPF_MAXINSNS];
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, (char *)prog + len, sizeof prog - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  close(fd);
  struct sock_fprog fprog = {.len = (unsigned short)(len / sizeof prog[0]), .filter = prog};
  if (len == 0 || len % sizeof prog[0] != 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_LOG, &fprog) < 0) {
    dprintf(2, "airlock-agent: seccomp-log: cannot load the logging filter: %s\n", len == 0 ? "empty program" : strerror(errno));
    return 126;
  }
  return exec_command(cmd, envp);
}

/*
 * --loginuid AUID -- CMD...: sets this process's audit login uid to AUID, then runs CMD. The
 * launcher of a sandbox does this before bubblewrap: every process of the sandbox inherits it and
 * can't change it (that needs CAP_AUDIT_CONTROL in the host's user namespace), so the kernel's
 * seccomp audit records name the sandbox even after the process is gone. Fails closed.
 */
static int run_with_loginuid(const char *auid, char **cmd, char **envp) {
  int fd = open("/proc/self/loginuid", O_WRONLY | O_CLOEXEC);
  size_t len = strlen(auid);
  if (fd < 0 || write(fd, auid, len) != (ssize_t)len) {
    dprintf(2, "airlock-agent: loginuid: cannot set the audit login uid (seccomp-audit): %s\n", strerror(errno));
    return 126;
  }
  close(fd);
  return exec_command(cmd, envp);
}

/*
 * --watch-writes FD -- CMD...: runs CMD under a seccomp user-notification filter for the calls that
 * write through a path or reach a socket (open/openat/creat with write flags, openat2, truncate,
 * mknod/mknodat, connect) and watches them from this process, the supervisor. For each one it reads
 * the path (one read of /proc/PID/mem, then SECCOMP_IOCTL_NOTIF_ID_VALID), resolves it as the
 * kernel would and, when it names a watched place (write_pattern), writes one line to FD:
 *   p PATTERN PID SYSCALL PATH      (PATH: bytes outside 0x21-0x7e and '\' as \xNN)
 * Every call is answered SECCOMP_USER_NOTIF_FLAG_CONTINUE. Why that is safe here: the supervisor
 * decides nothing, it only watches; the kernel, the mounts and the permissions still decide.
 * Fails closed: CMD never runs unless the filter is loaded and its listener is here (exit 126,
 * message starting "airlock-agent: watch-writes: "); if the supervisor dies, the kernel fails
 * every watched call (ENOSYS). With MODE "agent" (FD:agent), the direct child is the airlock agent,
 * which makes itself non-dumpable: its own calls (the host's file requests) are not reported as
 * unseen. Any other process whose memory can't be read (it made itself non-dumpable) is reported
 * as pattern `write_unseen`, path "-".
 */
#define WATCH_INTENT (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)
#if defined(__x86_64__)
#define WATCH_ARCH 0xc000003eu /* AUDIT_ARCH_X86_64 */
#elif defined(__aarch64__)
#define WATCH_ARCH 0xc00000b7u /* AUDIT_ARCH_AARCH64 */
#else
#error "--watch-writes: unsupported architecture"
#endif

enum watch_target { WT_NOTIFY, WT_FLAGS1, WT_FLAGS2 };

/* The watching filter: notify for the listed calls (open/openat only with write intent), allow all else. */
static unsigned short watch_filter(struct sock_filter *prog) {
  static const struct { int nr; enum watch_target target; } calls[] = {
#ifdef __NR_open
    {__NR_open, WT_FLAGS1},
#endif
#ifdef __NR_creat
    {__NR_creat, WT_NOTIFY},
#endif
#ifdef __NR_mknod
    {__NR_mknod, WT_NOTIFY},
#endif
    {__NR_openat, WT_FLAGS2}, {__NR_openat2, WT_NOTIFY}, {__NR_truncate, WT_NOTIFY},
    {__NR_mknodat, WT_NOTIFY}, {__NR_connect, WT_NOTIFY},
  };
  const unsigned nc = sizeof calls / sizeof calls[0];
  unsigned n = 0;
#ifdef __x86_64__
  const unsigned head = 4;
#else
  const unsigned head = 3;
#endif
  /* Layout: head, one JEQ per call, RET ALLOW, flags1 (2), flags2 (2), ALLOW, NOTIFY. */
  const unsigned f1 = head + nc + 1, f2 = f1 + 2, allow = f2 + 2, notify = allow + 1;
#define AT(target) ((unsigned char)((target) - (n + 1)))
  prog[n] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)), n++;
  prog[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, WATCH_ARCH, 0, AT(allow)), n++;
  prog[n] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)), n++;
#ifdef __x86_64__
  /* x32 calls: the sandbox's own filter decides them; nothing here. */
  prog[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, AT(allow), 0), n++;
#endif
  for (unsigned i = 0; i < nc; i++) {
    unsigned target = calls[i].target == WT_FLAGS1 ? f1 : calls[i].target == WT_FLAGS2 ? f2 : notify;
    prog[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)calls[i].nr, AT(target), 0), n++;
  }
  prog[n] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW), n++;
  /* The low 32 bits of the flags argument (both arches are little-endian). */
  prog[n] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])), n++;
  prog[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, WATCH_INTENT, AT(notify), AT(allow)), n++;
  prog[n] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])), n++;
  prog[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, WATCH_INTENT, AT(notify), AT(allow)), n++;
  prog[n] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW), n++;
  prog[n] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF), n++;
#undef AT
  return (unsigned short)n;
}

static bool has_prefix(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* `path` is `dir` itself or below it (dir without its final slash). */
static bool under(const char *path, const char *dir) {
  size_t n = strlen(dir);
  return strncmp(path, dir, n) == 0 && (path[n] == 0 || path[n] == '/');
}

/* The sandbox's own devices (bwrap --dev, its devpts and /dev/shm): writing them is ordinary. */
static bool sandbox_device(const char *path) {
  static const char *const own[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx", "/dev/stdin", "/dev/stdout", "/dev/stderr"};
  for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
    if (strcmp(path, own[i]) == 0) return true;
  return under(path, "/dev/pts") || under(path, "/dev/shm") || under(path, "/dev/fd");
}

/* The escape pattern a write to `path` belongs to; NULL for an ordinary write. */
static const char *write_pattern(const char *path) {
  // Why CRITICAL-class: core_pattern, modprobe and the other kernel.* tunables and sysrq run code or stop the host.
  if (under(path, "/proc/sys/kernel") || strcmp(path, "/proc/sysrq-trigger") == 0) return "kernel_tunable_write";
  if (under(path, "/proc/sys")) return "proc_sys_write";
  if (under(path, "/sys")) return "sysfs_write";
  if (under(path, "/boot")) return "boot_write";
  if (under(path, "/dev") && !sandbox_device(path)) return "device_write";
  return NULL;
}

/* A container runtime's or orchestrator's control socket: the known paths and names. */
static bool runtime_socket(const char *path) {
  static const char *const dirs[] = {"/run/containerd", "/run/crio", "/run/podman", "/run/libvirt", "/run/docker", "/run/k3s", "/run/buildkit", "/run/firecracker-containerd", "/run/kata-containers", "/run/incus", "/run/lxd", "/var/lib/kubelet", "/var/lib/lxd", "/var/snap/lxd"};
  static const char *const names[] = {"docker.sock", "containerd.sock", "crio.sock", "podman.sock", "kubelet.sock", "dockershim.sock", "cri-dockerd.sock", "buildkitd.sock"};
  // containerd's shims listen on abstract sockets (CVE-2020-15257).
  if (has_prefix(path, "@/containerd-shim")) return true;
  const char *p = has_prefix(path, "/var/run/") ? path + 4 : path;
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
    if (under(p, dirs[i])) return true;
  const char *base = strrchr(p, '/');
  base = base == NULL ? p : base + 1;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(base, names[i]) == 0) return true;
  return false;
}

/* Lexically normalises an absolute path in place: no //, no /./, no /../ (what the kernel would do without symlinks). */
static void normalise(char *path) {
  char *out = path, *in = path;
  while (*in != 0) {
    while (*in == '/') in++;
    char *end = strchrnul(in, '/');
    size_t len = (size_t)(end - in);
    if (len == 0 || (len == 1 && in[0] == '.')) {
      /* nothing */
    } else if (len == 2 && in[0] == '.' && in[1] == '.') {
      while (out > path && *--out != '/') {}
    } else {
      *out++ = '/';
      memmove(out, in, len);
      out += len;
    }
    in = end;
  }
  if (out == path) *out++ = '/';
  *out = 0;
}

struct watcher {
  int out;               /* where finding lines go */
  pid_t agent;           /* the direct child when it is the airlock agent (its calls are the host's), else 0 */
  char raw[PATH_MAX + 1];
  char base[PATH_MAX + 1];
  char full[2 * PATH_MAX + 2];
  char resolved[PATH_MAX + 1];
  char line[4 * PATH_MAX + 128];
};

/* Reads up to `len` bytes of process `pid` at `addr` (one pread); -1 when its memory can't be read. */
static ssize_t read_tracee(pid_t pid, uint64_t addr, void *buf, size_t len) {
  char mem[32];
  snprintf(mem, sizeof mem, "/proc/%d/mem", (int)pid);
  int fd = open(mem, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = pread(fd, buf, len, (off_t)addr);
  close(fd);
  return n;
}

/* readlink into `out` (NUL-terminated); false if it fails or doesn't fit. */
static bool link_of(const char *link, char *out, size_t size) {
  ssize_t n = readlink(link, out, size - 1);
  if (n < 0 || (size_t)n >= size - 1) return false;
  out[n] = 0;
  return true;
}

/*
 * The path as the kernel resolves it (symlinks, /proc/PID/root, ...): w->full (absolute, normalised)
 * is opened O_PATH (no side effect: O_PATH runs no open method), or else its parent directory,
 * and read back from /proc/self/fd. Falls back to w->full when neither exists.
 */
static const char *resolve(struct watcher *w) {
  char fdlink[32];
  int fd = open(w->full, O_PATH | O_CLOEXEC);
  const char *tail = NULL;
  if (fd < 0) {
    char *slash = strrchr(w->full, '/');
    if (slash == NULL || slash == w->full) return w->full;
    *slash = 0;
    fd = open(w->full, O_PATH | O_DIRECTORY | O_CLOEXEC);
    *slash = '/';
    tail = slash;
    if (fd < 0) return w->full;
  }
  snprintf(fdlink, sizeof fdlink, "/proc/self/fd/%d", fd);
  bool ok = link_of(fdlink, w->resolved, sizeof w->resolved);
  close(fd);
  if (!ok) return w->full;
  if (tail != NULL) {
    size_t have = strlen(w->resolved);
    if (have + strlen(tail) + 1 > sizeof w->resolved) return w->full;
    strcpy(w->resolved + (have == 1 ? 0 : have), tail);
  }
  return w->resolved;
}

static void emit_finding(struct watcher *w, const char *pattern, pid_t pid, const char *call, const char *path) {
  static const char hex[] = "0123456789abcdef";
  int n = snprintf(w->line, sizeof w->line, "p %s %d %s ", pattern, (int)pid, call);
  size_t at = (size_t)n;
  for (const unsigned char *p = (const unsigned char *)path; *p != 0 && at + 5 < sizeof w->line; p++) {
    if (*p > 0x20 && *p < 0x7f && *p != '\\') {
      w->line[at++] = (char)*p;
    } else {
      w->line[at++] = '\\', w->line[at++] = 'x', w->line[at++] = hex[*p >> 4], w->line[at++] = hex[*p & 15];
    }
  }
  w->line[at++] = '\n';
  for (size_t done = 0; done < at;) {
    ssize_t k = write(w->out, w->line + done, at - done);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return; /* the controller is gone: the sandbox goes with it */
    done += (size_t)k;
  }
}

static const char *call_name(int nr) {
  switch (nr) {
#ifdef __NR_open
    case __NR_open: return "open";
#endif
#ifdef __NR_creat
    case __NR_creat: return "creat";
#endif
#ifdef __NR_mknod
    case __NR_mknod: return "mknod";
#endif
    case __NR_openat: return "openat";
    case __NR_openat2: return "openat2";
    case __NR_truncate: return "truncate";
    case __NR_mknodat: return "mknodat";
    case __NR_connect: return "connect";
    default: return "syscall";
  }
}

/* Looks at one notified call; writes a finding line when it is one. Never decides anything. */
static void inspect(struct watcher *w, int listener, const struct seccomp_notif *req) {
  const __u64 *a = req->data.args;
  int nr = req->data.nr;
  pid_t pid = (pid_t)req->pid;
  uint64_t path_at = a[1];
  int dirfd = (int)a[0];
  unsigned mode = 0;
  switch (nr) {
#ifdef __NR_open
    case __NR_open: path_at = a[0], dirfd = AT_FDCWD; break;
#endif
#ifdef __NR_creat
    case __NR_creat: path_at = a[0], dirfd = AT_FDCWD; break;
#endif
#ifdef __NR_mknod
    case __NR_mknod: path_at = a[0], dirfd = AT_FDCWD, mode = (unsigned)a[1]; break;
#endif
    case __NR_truncate: path_at = a[0], dirfd = AT_FDCWD; break;
    case __NR_mknodat: mode = (unsigned)a[2]; break;
    case __NR_connect: {
      struct sockaddr_un addr;
      size_t len = a[2] < sizeof addr ? (size_t)a[2] : sizeof addr;
      memset(&addr, 0, sizeof addr);
      ssize_t got = len <= offsetof(struct sockaddr_un, sun_path) ? -1 : read_tracee(pid, a[1], &addr, len);
      if (got <= (ssize_t)offsetof(struct sockaddr_un, sun_path) || addr.sun_family != AF_UNIX || ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) != 0) return;
      size_t plen = (size_t)got - offsetof(struct sockaddr_un, sun_path);
      if (addr.sun_path[0] == 0) { /* abstract: shown as @name */
        w->raw[0] = '@';
        memcpy(w->raw + 1, addr.sun_path + 1, plen - 1);
        w->raw[plen] = 0;
      } else {
        memcpy(w->raw, addr.sun_path, plen);
        w->raw[plen] = 0;
      }
      if (w->raw[0] != '@' && w->raw[0] != '/') {
        /* relative: below the caller's working directory */
        char cwd[32];
        snprintf(cwd, sizeof cwd, "/proc/%d/cwd", (int)pid);
        if (!link_of(cwd, w->base, sizeof w->base)) return;
        snprintf(w->full, sizeof w->full, "%s/%s", w->base, w->raw);
      } else {
        snprintf(w->full, sizeof w->full, "%s", w->raw);
      }
      if (w->full[0] == '/') normalise(w->full);
      if (runtime_socket(w->full)) emit_finding(w, "runtime_socket_probe", pid, "connect", w->full);
      return;
    }
    default: break;
  }
  ssize_t got = read_tracee(pid, path_at, w->raw, PATH_MAX);
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) != 0) return; /* gone: what was read may be another's */
  if (got <= 0) {
    // Why report it: a process that made itself non-dumpable hides its paths from the watcher.
    if (pid != w->agent) emit_finding(w, "write_unseen", pid, call_name(nr), "-");
    return;
  }
  w->raw[got] = 0;
  if (nr == __NR_openat2) {
    uint64_t flags = 0;
    if (read_tracee(pid, a[2], &flags, sizeof flags) != (ssize_t)sizeof flags || (flags & WATCH_INTENT) == 0) return;
  }
  // Why: a device node made (mknod of a char/block device) is device access wherever it is made.
  if ((nr == __NR_mknodat
#ifdef __NR_mknod
       || nr == __NR_mknod
#endif
       ) && (S_ISCHR(mode) || S_ISBLK(mode))) {
    emit_finding(w, "device_node_create", pid, call_name(nr), w->raw);
    return;
  }
  if (w->raw[0] == '/') {
    snprintf(w->full, sizeof w->full, "%s", w->raw);
  } else {
    char base[32];
    if (dirfd == AT_FDCWD) snprintf(base, sizeof base, "/proc/%d/cwd", (int)pid);
    else snprintf(base, sizeof base, "/proc/%d/fd/%d", (int)pid, dirfd);
    if (!link_of(base, w->base, sizeof w->base) || w->base[0] != '/') return;
    snprintf(w->full, sizeof w->full, "%s/%s", w->base, w->raw);
  }
  normalise(w->full);
  const char *path = resolve(w);
  const char *pattern = write_pattern(path);
  if (pattern != NULL) emit_finding(w, pattern, pid, call_name(nr), path);
}

static int send_fd(int sock, int fd) {
  char data = 'L';
  struct iovec iov = {.iov_base = &data, .iov_len = 1};
  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
  memset(&u, 0, sizeof u);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS, c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

static int recv_fd(int sock) {
  char data;
  struct iovec iov = {.iov_base = &data, .iov_len = 1};
  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1) return -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (c == NULL || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int))) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

static int fail_watch(const char *what) {
  dprintf(2, "airlock-agent: watch-writes: %s: %s\n", what, strerror(errno));
  return 126;
}

/*
 * Receives the child's first watched call (its open of /dev/null) and continues it: NULL when
 * receiving, SECCOMP_IOCTL_NOTIF_ID_VALID and SECCOMP_USER_NOTIF_FLAG_CONTINUE (Linux 5.5+) all
 * work, else what failed. Why: a kernel without one of them would fail every call, or report none.
 */
static const char *self_test(int listener, struct seccomp_notif *req, size_t req_size, struct seccomp_notif_resp *resp, size_t resp_size) {
  struct pollfd pfd = {.fd = listener, .events = POLLIN};
  int ready;
  while ((ready = poll(&pfd, 1, 10000)) < 0 && errno == EINTR) {}
  if (ready <= 0 || (pfd.revents & POLLIN) == 0) {
    if (ready == 0) errno = ETIMEDOUT;
    return "no first call from the command";
  }
  memset(req, 0, req_size);
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) < 0) return "SECCOMP_IOCTL_NOTIF_RECV";
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) < 0) return "SECCOMP_IOCTL_NOTIF_ID_VALID";
  memset(resp, 0, resp_size);
  resp->id = req->id;
  resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp) < 0) return "SECCOMP_USER_NOTIF_FLAG_CONTINUE (Linux 5.5+)";
  return NULL;
}

static int run_watch_writes(const char *spec, char **cmd, char **envp) {
  char *end;
  errno = 0;
  long out = strtol(spec, &end, 10);
  bool agent_child = strcmp(end, ":agent") == 0;
  if (errno != 0 || end == spec || (*end != 0 && !agent_child) || out < 3 || out > INT_MAX || fcntl((int)out, F_GETFD) < 0 || cmd[0] == NULL) {
    dprintf(2, "airlock-agent: watch-writes: usage: --watch-writes FD[:agent] -- CMD ARGS...\n");
    return 126;
  }
  static struct sock_filter prog[32];
  struct sock_fprog fprog = {.len = watch_filter(prog), .filter = prog};
  struct seccomp_notif_sizes sizes;
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0) return fail_watch("seccomp user notification is not available");
  // Why before the fork: the supervisor is never dumpable, so commands (same uid) can't reach its memory or descriptors.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) return fail_watch("prctl(PR_SET_DUMPABLE)");
  static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) sigaddset(&set, forwarded[i]);
  if (sigprocmask(SIG_BLOCK, &set, &old) < 0) return fail_watch("sigprocmask");
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) return fail_watch("socketpair");
  pid_t child = fork();
  if (child < 0) return fail_watch("fork");
  if (child == 0) {
    close(pair[0]);
    close((int)out);
    sigprocmask(SIG_SETMASK, &old, NULL);
    int listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &fprog);
    if (listener < 0) _exit(fail_watch("cannot load the watching filter"));
    if (send_fd(pair[1], listener) < 0) _exit(fail_watch("cannot hand over the listener"));
    close(listener);
    close(pair[1]);
    // The first watched call: the supervisor answers it before anything of CMD runs (its self-test).
    int probe = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (probe < 0) _exit(fail_watch("the watcher did not answer its first call"));
    close(probe);
    _exit(exec_command(cmd, envp));
  }
  close(pair[1]);
  int listener = recv_fd(pair[0]);
  close(pair[0]);
  int sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
  if (listener < 0 || sig_fd < 0) {
    int status = 0;
    waitpid(child, &status, 0);
    // The child said why (filter refused); otherwise this is the reason.
    if (WIFEXITED(status) && WEXITSTATUS(status) == 126) return 126;
    return fail_watch("no listener from the command");
  }
  // The command's stdio (the agent's control channel) is not ours to hold open.
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd >= 0) {
    dup2(null_fd, 0);
    dup2(null_fd, 1);
    close(null_fd);
  }
  static struct watcher w;
  w.out = (int)out;
  w.agent = agent_child ? child : 0;
  size_t req_size = sizes.seccomp_notif > sizeof(struct seccomp_notif) ? sizes.seccomp_notif : sizeof(struct seccomp_notif);
  size_t resp_size = sizes.seccomp_notif_resp > sizeof(struct seccomp_notif_resp) ? sizes.seccomp_notif_resp : sizeof(struct seccomp_notif_resp);
  struct seccomp_notif *req = calloc(1, req_size);
  struct seccomp_notif_resp *resp = calloc(1, resp_size);
  if (req == NULL || resp == NULL) die("calloc");
  // Fail closed at start, not mid-run: the child's first call must be received, validated and continued.
  const char *broken = self_test(listener, req, req_size, resp, resp_size);
  if (broken != NULL) {
    dprintf(2, "airlock-agent: watch-writes: %s: %s\n", broken, strerror(errno));
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return 126;
  }
  struct pollfd pfds[2] = {{.fd = sig_fd, .events = POLLIN}, {.fd = listener, .events = POLLIN}};
  for (;;) {
    if (poll(pfds, pfds[1].fd < 0 ? 1 : 2, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (pfds[1].fd >= 0 && (pfds[1].revents & POLLIN) != 0) {
      memset(req, 0, req_size);
      if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) == 0) {
        inspect(&w, listener, req);
        memset(resp, 0, resp_size);
        resp->id = req->id;
        resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        // ENOENT: the caller was interrupted or died meanwhile; nothing to answer.
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp) < 0 && errno != ENOENT) _exit(fail_watch("cannot answer a watched call"));
      }
    } else if (pfds[1].fd >= 0 && (pfds[1].revents & (POLLHUP | POLLERR)) != 0) {
      pfds[1].fd = -1; /* no process under the filter is left */
    }
    if ((pfds[0].revents & POLLIN) == 0) continue;
    struct signalfd_siginfo si;
    if (read(sig_fd, &si, sizeof si) != (ssize_t)sizeof si) continue;
    if (si.ssi_signo != SIGCHLD) {
      kill(child, (int)si.ssi_signo);
      continue;
    }
    int status = 0;
    pid_t pid;
    // Reaps every orphan too: with --as-pid-1 this process is the sandbox's pid 1.
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid != child) continue;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    }
  }
}

/*
 * --idmap-bind NSUID:HOSTUID NSGID:HOSTGID ro|rw TARGET: run by the controller on the host (as
 * root), never inside a sandbox. Clones the mount of the directory open on fd 3 (a pinned grant),
 * makes it an id-mapped mount where files of NSUID:NSGID appear as HOSTUID:HOSTGID (the sandbox's
 * host identity) and what that identity creates is stored as NSUID:NSGID, nosuid and nodev (and
 * read-only for ro), and attaches it at TARGET. The mapping's user namespace is a short-lived
 * child's. Inside a sandbox the new mount API is refused by seccomp, so there it does nothing.
 */
static int fail_idmap(const char *step) {
  dprintf(2, "airlock-agent: idmap: %s: %s\n", step, strerror(errno));
  return 1;
}

static int idmap_write(pid_t pid, const char *file, const char *pair) {
  char path[64], line[64];
  const char *colon = strchr(pair, ':');
  if (colon == NULL) return -1;
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
  int n = snprintf(line, sizeof line, "%.*s %s 1\n", (int)(colon - pair), pair, colon + 1);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || n <= 0 || write(fd, line, (size_t)n) != n) {
    if (fd >= 0) close(fd);
    return -1;
  }
  close(fd);
  return 0;
}

static int run_idmap_bind(const char *uids, const char *gids, const char *access, const char *target) {
  int ready[2], done[2];
  if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(done, O_CLOEXEC) < 0) return fail_idmap("pipe");
  pid_t pid = fork();
  if (pid < 0) return fail_idmap("fork");
  if (pid == 0) {
    char c = 0;
    if (unshare(CLONE_NEWUSER) != 0) _exit(1);
    if (write(ready[1], &c, 1) != 1 || read(done[0], &c, 1) < 0) _exit(1);
    _exit(0);
  }
  char c = 0;
  int ok = read(ready[0], &c, 1) == 1 && idmap_write(pid, "uid_map", uids) == 0 && idmap_write(pid, "gid_map", gids) == 0;
  char ns_path[64];
  snprintf(ns_path, sizeof ns_path, "/proc/%d/ns/user", (int)pid);
  int ns = ok ? open(ns_path, O_RDONLY | O_CLOEXEC) : -1;
  if (write(done[1], &c, 1) < 0) ok = 0;
  waitpid(pid, NULL, 0);
  if (!ok || ns < 0) return fail_idmap("user namespace for the mapping");
  int tree = (int)syscall(SYS_open_tree, 3, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
  if (tree < 0) return fail_idmap("open_tree");
  struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, .userns_fd = (uint64_t)ns };
  if (strcmp(access, "ro") == 0) attr.attr_set |= MOUNT_ATTR_RDONLY;
  if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) return fail_idmap("mount_setattr");
  if (syscall(SYS_move_mount, tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0) return fail_idmap("move_mount");
  return 0;
}

int main(int argc, char **argv, char **envp) {
  if (argc == 6 && strcmp(argv[1], "--idmap-bind") == 0) return run_idmap_bind(argv[2], argv[3], argv[4], argv[5]);
  if (argc >= 4 && strcmp(argv[1], "--close-fds-from") == 0) return run_closing_fds(argv + 2, envp);
  if (argc >= 3 && strcmp(argv[1], "--init") == 0 && strcmp(argv[2], "--") == 0) return run_init(argv + 3, envp);
  if (argc >= 4 && strcmp(argv[1], "--loginuid") == 0 && strcmp(argv[3], "--") == 0) return run_with_loginuid(argv[2], argv + 4, envp);
  if (argc >= 4 && strcmp(argv[1], "--seccomp-log") == 0 && strcmp(argv[3], "--") == 0) return run_seccomp_logged(argv[2], argv + 4, envp);
  if (argc >= 4 && strcmp(argv[1], "--watch-writes") == 0 && strcmp(argv[3], "--") == 0) return run_watch_writes(argv[2], argv + 4, envp);
  if (argc >= 4 && strcmp(argv[1], "--apparmor-stack") == 0 && strcmp(argv[3], "--") == 0) return run_apparmor_stacked(argv[2], argv + 4, envp);
  if (argc >= 3 && strcmp(argv[1], "--no-thp") == 0 && strcmp(argv[2], "--") == 0) return run_without_thp(argv + 3, envp);
  static struct agent agent; /* large tables: not on the stack */
  struct agent *a = &agent;
  // Descriptors 0-2 must exist so no pipe is ever created on them.
  for (int fd = 0; fd < 3; fd++)
    if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd) die("stdio");
  close_from(3);
  // The control channel must be sockets: a pipe could be reopened through /proc/<pid>/fd by sandbox
  // code wherever the runtime ignores non-dumpable there (gVisor), and frames forged or read.
  for (int fd = 0; fd < 2; fd++) {
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
      fprintf(stderr, "airlock-agent: fd %d is not a socket: the control channel must not be reopenable\n", fd);
      _exit(1);
    }
  }
  // Not dumpable: commands run as the same user, and must not reach into the agent through
  // /proc/<pid>/mem or reopen its protocol channel through /proc/<pid>/fd (exec resets it for them).
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) die("prctl(PR_SET_DUMPABLE)");
  // File modes the host asks for are applied exactly; commands get the launcher's umask back.
  a->umask = umask(0);
  // A host that goes away must surface as a failed write (EPIPE), not kill us silently.
  signal(SIGPIPE, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &chld, NULL) < 0) die("sigprocmask");
  a->sig_fd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
  if (a->sig_fd < 0) die("signalfd");
  set_nonblock(0);
  set_nonblock(1);
  uint8_t ready[12];
  put_u32(ready, PROTOCOL_VERSION);
  put_u32(ready + 4, (uint32_t)getpid());
  put_u32(ready + 8, MAX_PAYLOAD);
  emit(a, EV_READY, 0, ready, sizeof ready);

  static struct pollfd pfds[3 + 3 * MAX_EXECS];
  static struct { enum ref_kind kind; int idx; } refs[3 + 3 * MAX_EXECS];
  for (;;) {
    if (!flush_out(a)) shutdown_agent(a, 1);
    bool room = a->out.len < OUT_HIGH_WATER;
    int np = 0;
#define ADD(fd_, ev_, kind_, idx_) \
  (pfds[np] = (struct pollfd){.fd = (fd_), .events = (ev_)}, refs[np].kind = (kind_), refs[np].idx = (idx_), np++)
    ADD(0, POLLIN, REF_IN, 0);
    ADD(a->sig_fd, POLLIN, REF_SIG, 0);
    if (a->out.len > 0) ADD(1, POLLOUT, REF_OUT, 0);
    for (int i = 0; i < a->nexecs; i++) {
      struct exec *x = &a->execs[i];
      if (x->in_fd >= 0 && x->stdin_q.len > 0) ADD(x->in_fd, POLLOUT, REF_X_IN, i);
      if (room && x->out_fd >= 0) ADD(x->out_fd, POLLIN, REF_X_OUT, i);
      if (room && x->err_fd >= 0) ADD(x->err_fd, POLLIN, REF_X_ERR, i);
    }
#undef ADD
    int timeout = room && jobs_pending(a) ? 0 : -1;
    if (poll(pfds, (nfds_t)np, timeout) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    for (int i = 0; i < np; i++) {
      if (pfds[i].revents == 0) continue;
      struct exec *x = &a->execs[refs[i].idx];
      switch (refs[i].kind) {
        case REF_IN: read_input(a); break;
        case REF_SIG: reap(a); break;
        case REF_OUT: break; /* flushed at the top of the loop */
        case REF_X_IN:
          if (x->in_fd == pfds[i].fd) write_stdin(a, x);
          break;
        case REF_X_OUT:
          if (x->out_fd == pfds[i].fd) read_output(a, x, &x->out_fd, EV_STDOUT);
          break;
        case REF_X_ERR:
          if (x->err_fd == pfds[i].fd) read_output(a, x, &x->err_fd, EV_STDERR);
          break;
      }
    }
    run_jobs(a);
    sweep(a);
  }
}
