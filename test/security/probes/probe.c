/*
 * In-sandbox escape probe for the security suite (SECURITY-TESTS.md).
 *
 * Built statically by the suite and granted read-only to the sandbox. It only ever runs inside a
 * sandbox: it refuses to start as root. Every attack syscall runs in a forked child with harmless
 * arguments (invalid pointers, own namespaces, bogus flags), so even on a host where a control is
 * missing the call can't change anything outside the child. Output is one JSON object per line:
 *   {"check":"unshare","ret":-1,"errno":1,"signal":0}
 * `ret` is null and `signal` non-zero when the child was killed before it could report.
 *
 * Modes:
 *   probe checks [--suid PATH] [--unix PATH_OR_@NAME]...   every in-sandbox check, batched
 *   probe hold MARKER SECONDS                              write /tmp/MARKER, rename self, sleep
 *   probe cross MARKER HOSTPID...                          try to see/signal/trace/read a neighbour
 *   probe forkbomb | fdflood | balloon MB | selfkill | sleep SECONDS
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef ADDR_NO_RANDOMIZE
#define ADDR_NO_RANDOMIZE 0x0040000
#endif
#ifndef READ_IMPLIES_EXEC
#define READ_IMPLIES_EXEC 0x0400000
#endif

/* ---------- output ---------- */

static void json_str(const char *s) {
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') printf("\\%c", *p);
    else if (*p == '\n') fputs("\\n", stdout);
    else if (*p < 0x20 || *p >= 0x7f) printf("\\u%04x", *p);
    else putchar(*p);
  }
  putchar('"');
}

/* Starts a line: {"check":"NAME" — finish with end_line(). */
static void begin(const char *check) {
  fputs("{\"check\":", stdout);
  json_str(check);
}
static void field_s(const char *key, const char *value) {
  printf(",\"%s\":", key);
  json_str(value);
}
static void field_l(const char *key, long value) { printf(",\"%s\":%ld", key, value); }
static void end_line(void) {
  fputs("}\n", stdout);
  fflush(stdout);
}

/* ---------- forked attack runner ---------- */

typedef long (*attack_fn)(const void *arg);
struct report {
  long ret;
  int err;
};

/*
 * Runs fn in a forked child and reports its return value, errno, and the signal that killed the
 * child (0 if none). Nothing the call does can outlive the child.
 */
static void attack_on(const char *name, attack_fn fn, const void *arg, const char *path) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    begin(name);
    field_s("error", "pipe failed");
    end_line();
    return;
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    errno = 0;
    struct report r;
    r.ret = fn(arg);
    r.err = r.ret == -1 ? errno : 0;
    ssize_t w = write(fds[1], &r, sizeof r);
    _exit(w == (ssize_t)sizeof r ? 0 : 1);
  }
  close(fds[1]);
  struct report r = {0, 0};
  ssize_t got = pid > 0 ? read(fds[0], &r, sizeof r) : -1;
  close(fds[0]);
  int status = 0;
  if (pid > 0) waitpid(pid, &status, 0);
  begin(name);
  if (path != NULL) field_s("path", path);
  if (pid < 0) field_s("error", "fork failed");
  if (got == (ssize_t)sizeof r) {
    field_l("ret", r.ret);
    field_l("errno", r.err);
  } else {
    fputs(",\"ret\":null,\"errno\":null", stdout);
  }
  field_l("signal", pid > 0 && WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  end_line();
}

static void attack(const char *name, attack_fn fn, const void *arg) { attack_on(name, fn, arg, NULL); }

/* ---------- T2/T3/T4/T7 attack bodies (harmless arguments) ---------- */

static long a_unshare(const void *arg) { (void)arg; return unshare(CLONE_NEWUSER); }
static long a_unshare_urm(const void *arg) { (void)arg; return unshare(CLONE_NEWUSER | CLONE_NEWNS); }
static long a_clone_newuser(const void *arg) {
  (void)arg;
  long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  if (r == 0) _exit(0);
  if (r > 0) waitpid((pid_t)r, NULL, 0);
  return r;
}
static long a_clone3(const void *arg) {
  (void)arg;
  struct clone_args ca;
  memset(&ca, 0, sizeof ca);
  ca.exit_signal = SIGCHLD;
  long r = syscall(SYS_clone3, &ca, sizeof ca);
  if (r == 0) _exit(0);
  if (r > 0) waitpid((pid_t)r, NULL, 0);
  return r;
}
static long a_setns(const void *arg) {
  (void)arg;
  /* Our own UTS namespace: joining it changes nothing even if allowed. */
  int fd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
  return syscall(SYS_setns, fd, 0);
}
static long a_mount(const void *arg) {
  (void)arg;
  return mount("none", "/nonexistent-airlock-probe", "tmpfs", 0, "size=4k");
}
static long a_umount2(const void *arg) { (void)arg; return umount2("/nonexistent-airlock-probe", 0); }
static long a_pivot_root(const void *arg) { (void)arg; return syscall(SYS_pivot_root, "/nonexistent-airlock-probe", "/nonexistent-airlock-probe"); }
static long a_open_tree(const void *arg) { (void)arg; return syscall(SYS_open_tree, AT_FDCWD, "/tmp", 0); }
static long a_move_mount(const void *arg) { (void)arg; return syscall(SYS_move_mount, -1, "", -1, "", 0); }
static long a_fsopen(const void *arg) { (void)arg; return syscall(SYS_fsopen, "tmpfs", 0); }
static long a_fsmount(const void *arg) { (void)arg; return syscall(SYS_fsmount, -1, 0, 0); }
static long a_fspick(const void *arg) { (void)arg; return syscall(SYS_fspick, AT_FDCWD, "/tmp", 0); }
static long a_mount_setattr(const void *arg) { (void)arg; return syscall(SYS_mount_setattr, -1, "", 0, NULL, 0); }
/* KEYCTL_GET_KEYRING_ID(KEY_SPEC_SESSION_KEYRING, create=0): read-only. */
static long a_keyctl(const void *arg) { (void)arg; return syscall(SYS_keyctl, 0, -3, 0, 0, 0); }
/* An unknown key type: fails before any key or upcall could exist. */
static long a_add_key(const void *arg) { (void)arg; return syscall(SYS_add_key, "airlock-invalid", "probe", "x", 1, -2); }
static long a_request_key(const void *arg) { (void)arg; return syscall(SYS_request_key, "airlock-invalid", "probe", NULL, 0); }
static long a_bpf(const void *arg) { (void)arg; return syscall(SYS_bpf, 0x7fff, NULL, 0); }
static long a_perf_event_open(const void *arg) { (void)arg; return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0); }
static long a_userfaultfd(const void *arg) { (void)arg; return syscall(SYS_userfaultfd, O_CLOEXEC); }
/* A bogus architecture in flags: even a privileged caller gets EINVAL, nothing is loaded/unloaded. */
static long a_kexec_load(const void *arg) { (void)arg; return syscall(SYS_kexec_load, 0, 0, NULL, 0x00ff0000UL); }
static long a_init_module(const void *arg) { (void)arg; return syscall(SYS_init_module, NULL, 0, ""); }
static long a_finit_module(const void *arg) { (void)arg; return syscall(SYS_finit_module, -1, "", 0); }
static long a_ptrace(const void *arg) { (void)arg; return ptrace(PTRACE_TRACEME, 0, NULL, NULL); }
/* Zero iovecs at our own pid: a no-op even if allowed. */
static long a_process_vm_writev(const void *arg) { (void)arg; return syscall(SYS_process_vm_writev, getpid(), NULL, 0, NULL, 0, 0); }
static long a_io_uring_setup(const void *arg) {
  (void)arg;
  unsigned char params[120];
  memset(params, 0, sizeof params);
  return syscall(SYS_io_uring_setup, 1, params);
}
static long a_socket_vsock(const void *arg) { (void)arg; return syscall(SYS_socket, AF_VSOCK, SOCK_STREAM, 0); }
static long a_socket_vsock_hi(const void *arg) {
  (void)arg;
  return syscall(SYS_socket, (unsigned long)AF_VSOCK | (1UL << 32), SOCK_STREAM, 0);
}
/* NULL argument: even if the call reached a tty it could not push a byte. */
static long a_tiocsti(const void *arg) { (void)arg; return syscall(SYS_ioctl, 0, (unsigned long)TIOCSTI, NULL); }
static long a_tiocsti_hi(const void *arg) {
  (void)arg;
  return syscall(SYS_ioctl, 0, (unsigned long)TIOCSTI | (1UL << 32), NULL);
}
static long a_personality(const void *arg) { return syscall(SYS_personality, *(const unsigned long *)arg); }

#if defined(__x86_64__)
/* i386 ABI from a 64-bit process: getpid is 20 there. */
static long a_int80(const void *arg) {
  (void)arg;
  long ret = 20;
  /* Every other register fixed: if the call were misread as a 64-bit one (20 = writev), it gets fd -1. */
  __asm__ volatile("int $0x80" : "+a"(ret) : "b"(0), "c"(0), "d"(0), "D"(-1L), "S"(0) : "memory");
  if (ret < 0 && ret > -4096) {
    errno = (int)-ret;
    return -1;
  }
  return ret;
}
/*
 * i386 number 39 is mkdir (with a NULL path: EFAULT, nothing created), but 39 is getpid in the
 * 64-bit table: a positive return means the call ran through the wrong (native) table.
 */
static long a_int80_confusion(const void *arg) {
  (void)arg;
  long ret = 39;
  __asm__ volatile("int $0x80" : "+a"(ret) : "b"(0), "c"(0), "D"(0), "S"(0) : "memory");
  if (ret < 0 && ret > -4096) {
    errno = (int)-ret;
    return -1;
  }
  return ret;
}
/* x32 ABI: getpid (39) with __X32_SYSCALL_BIT. */
static long a_x32(const void *arg) {
  (void)arg;
  return syscall(0x40000000L | 39);
}
#endif

static long a_mount_cgroup(const void *arg) { return mount("cgroup", (const char *)arg, "cgroup", 0, "memory"); }
static long a_mount_cgroup2(const void *arg) { return mount("cgroup2", (const char *)arg, "cgroup2", 0, NULL); }

/* Opens for writing and closes without writing a byte. */
static long a_open_wronly(const void *arg) {
  int fd = open((const char *)arg, O_WRONLY | O_CLOEXEC | O_NOCTTY);
  if (fd >= 0) close(fd);
  return fd;
}

/* ---------- helpers ---------- */

static void report_call(const char *check, const char *key, const char *value, long ret, int err) {
  begin(check);
  if (key != NULL) field_s(key, value);
  field_l("ret", ret);
  field_l("errno", ret < 0 ? err : 0);
  end_line();
}

/* Runs argv, returns the exit status, copies up to cap-1 bytes of stdout into out. */
static int run_capture(char *const argv[], char *out, size_t cap) {
  int fds[2];
  out[0] = '\0';
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 2);
    execv(argv[0], argv);
    _exit(127);
  }
  close(fds[1]);
  size_t n = 0;
  ssize_t r;
  while (n + 1 < cap && (r = read(fds[0], out + n, cap - 1 - n)) > 0) n += (size_t)r;
  out[n] = '\0';
  close(fds[0]);
  int status = 0;
  if (pid > 0) waitpid(pid, &status, 0);
  return status;
}

static void chomp(char *s) {
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ')) s[--n] = '\0';
}

/* Reads a whole small file (up to cap-1 bytes); returns bytes read or -1 with errno. */
static long read_file(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return -1;
  size_t n = 0;
  ssize_t r;
  while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0) n += (size_t)r;
  int err = errno;
  buf[n] = '\0';
  close(fd);
  if (n == 0 && r < 0) {
    errno = err;
    return -1;
  }
  return (long)n;
}

/* ---------- check groups ---------- */

/* T8: must run first, before the probe opens anything. */
static void check_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL) {
    report_call("fd_list", NULL, NULL, -1, errno);
    return;
  }
  int own = dirfd(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd == own) continue;
    char path[64], target[PATH_MAX];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    int flags = fcntl(fd, F_GETFD);
    struct stat st;
    const char *kind = "unknown";
    if (fstat(fd, &st) == 0) {
      kind = S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "dir" : S_ISFIFO(st.st_mode) ? "fifo"
           : S_ISSOCK(st.st_mode) ? "socket" : S_ISCHR(st.st_mode) ? "char" : S_ISBLK(st.st_mode) ? "block"
           : S_ISLNK(st.st_mode) ? "symlink" : "other";
    }
    begin("fd");
    field_l("fd", fd);
    field_s("target", target);
    field_s("kind", kind);
    if (strcmp(kind, "char") == 0) {
      field_l("major", (long)major(st.st_rdev));
      field_l("minor", (long)minor(st.st_rdev));
      field_l("isatty", isatty(fd));
      /* /dev/null reads as immediate EOF; never block on anything else (a tty without input). */
      struct pollfd pfd = {.fd = fd, .events = POLLIN};
      char c;
      long n = poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN) ? (long)read(fd, &c, 1) : -2;
      field_l("read", n);
    }
    field_l("cloexec", flags >= 0 && (flags & FD_CLOEXEC) ? 1 : 0);
    end_line();
  }
  closedir(d);
}

/* T1 (+ Seccomp line for T2). */
static void check_identity(void) {
  char buf[8192];
  begin("ids");
  field_l("uid", getuid());
  field_l("euid", geteuid());
  field_l("gid", getgid());
  field_l("egid", getegid());
  end_line();
  if (read_file("/proc/self/status", buf, sizeof buf) > 0) {
    const char *keys[] = {"Uid", "Gid", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
      char needle[32];
      snprintf(needle, sizeof needle, "\n%s:", keys[k]);
      char *at = strstr(buf, needle);
      begin("status");
      field_s("key", keys[k]);
      if (at != NULL) {
        at += strlen(needle);
        while (*at == ' ' || *at == '\t') at++;
        char value[128];
        size_t n = strcspn(at, "\n");
        if (n >= sizeof value) n = sizeof value - 1;
        memcpy(value, at, n);
        value[n] = '\0';
        field_s("value", value);
      }
      end_line();
    }
  }
  /* The ambient set, asked of the kernel directly (some /proc/self/status lack CapAmb). */
  int ambient = 0, ambient_err = 0;
  for (int cap = 0; cap <= 63; cap++) {
    int r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
    if (r == 1) ambient++;
    if (r < 0 && errno != EINVAL) ambient_err = errno;
  }
  begin("ambient_caps");
  field_l("set", ambient);
  field_l("errno", ambient_err);
  end_line();
  errno = 0;
  int nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
  report_call("prctl_no_new_privs", NULL, NULL, nnp, errno);
  errno = 0;
  int sec = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
  report_call("prctl_seccomp", NULL, NULL, sec, errno);
  const char *maps[] = {"/proc/self/uid_map", "/proc/self/gid_map"};
  for (int i = 0; i < 2; i++) {
    long n = read_file(maps[i], buf, sizeof buf);
    begin("idmap");
    field_s("path", maps[i]);
    field_l("ret", n);
    if (n >= 0) field_s("content", buf);
    end_line();
  }
  char out[256];
  char *const id_argv[] = {"/usr/bin/id", "-u", NULL};
  int st = run_capture(id_argv, out, sizeof out);
  chomp(out);
  begin("id_u");
  field_s("out", out);
  field_l("status", st);
  end_line();
}

static void check_syscalls(void) {
  attack("unshare", a_unshare, NULL);
  attack("clone_newuser", a_clone_newuser, NULL);
  attack("clone3", a_clone3, NULL);
  attack("setns", a_setns, NULL);
  attack("mount", a_mount, NULL);
  attack("umount2", a_umount2, NULL);
  attack("pivot_root", a_pivot_root, NULL);
  attack("open_tree", a_open_tree, NULL);
  attack("move_mount", a_move_mount, NULL);
  attack("fsopen", a_fsopen, NULL);
  attack("fsmount", a_fsmount, NULL);
  attack("fspick", a_fspick, NULL);
  attack("mount_setattr", a_mount_setattr, NULL);
  attack("keyctl", a_keyctl, NULL);
  attack("add_key", a_add_key, NULL);
  attack("request_key", a_request_key, NULL);
  attack("bpf", a_bpf, NULL);
  attack("perf_event_open", a_perf_event_open, NULL);
  attack("userfaultfd", a_userfaultfd, NULL);
  attack("kexec_load", a_kexec_load, NULL);
  attack("init_module", a_init_module, NULL);
  attack("finit_module", a_finit_module, NULL);
  attack("ptrace", a_ptrace, NULL);
  attack("process_vm_writev", a_process_vm_writev, NULL);
  attack("io_uring_setup", a_io_uring_setup, NULL);
  attack("socket_vsock", a_socket_vsock, NULL);
  static const unsigned long no_aslr = ADDR_NO_RANDOMIZE, rie = READ_IMPLIES_EXEC;
  attack("personality_addr_no_randomize", a_personality, &no_aslr);
  attack("personality_read_implies_exec", a_personality, &rie);
  /* T3: the same denials with bit 32 set in the argument the filter inspects. */
  attack("socket_vsock_highbit", a_socket_vsock_hi, NULL);
  attack("tiocsti_highbit", a_tiocsti_hi, NULL);
  /* T5 */
#if defined(__x86_64__)
  attack("i386_int80", a_int80, NULL);
  attack("i386_int80_confusion", a_int80_confusion, NULL);
  attack("x32_syscall", a_x32, NULL);
#else
  begin("i386_int80");
  field_s("skip", "not x86_64");
  end_line();
  begin("i386_int80_confusion");
  field_s("skip", "not x86_64");
  end_line();
  begin("x32_syscall");
  field_s("skip", "not x86_64");
  end_line();
#endif
}

/* T6 and T7. */
static void check_tty_and_userns(void) {
  begin("stdin_tty");
  field_l("isatty", isatty(0));
  end_line();
  attack("tiocsti", a_tiocsti, NULL);
  int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  report_call("open_dev_tty", NULL, NULL, fd, errno);
  if (fd >= 0) close(fd);
  attack("unshare_urm_syscall", a_unshare_urm, NULL);
  char out[512];
  char *const argv[] = {"/usr/bin/unshare", "-Urm", "/bin/true", NULL};
  int st = run_capture(argv, out, sizeof out);
  begin("unshare_urm_cmd");
  field_l("exited", WIFEXITED(st));
  field_l("status", WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
  end_line();
}

static void report_statvfs(const char *check, const char *path) {
  struct statvfs sv;
  int r = statvfs(path, &sv);
  begin(check);
  field_s("path", path);
  field_l("ret", r);
  field_l("errno", r < 0 ? errno : 0);
  if (r == 0) {
    field_l("rdonly", (sv.f_flag & ST_RDONLY) ? 1 : 0);
    field_l("nosuid", (sv.f_flag & ST_NOSUID) ? 1 : 0);
  }
  end_line();
}

/* T9 */
static void check_cgroup(void) {
  const char *dir = "/tmp/.airlock-probe-cg";
  mkdir(dir, 0700);
  attack("mount_cgroup_v1", a_mount_cgroup, dir);
  attack("mount_cgroup_v2", a_mount_cgroup2, dir);
  rmdir(dir);
  struct stat st;
  int r = stat("/sys/fs/cgroup", &st);
  report_call("sys_fs_cgroup_stat", NULL, NULL, r, errno);
  if (r == 0) {
    report_statvfs("sys_fs_cgroup_statvfs", "/sys/fs/cgroup");
    attack("open_wr_release_agent", a_open_wronly, "/sys/fs/cgroup/release_agent");
    attack("open_wr_cgroup_procs", a_open_wronly, "/sys/fs/cgroup/cgroup.procs");
  }
}

/* T10 */
static void check_proc_sys(void) {
  attack_on("open_wr_core_pattern", a_open_wronly, "/proc/sys/kernel/core_pattern", "/proc/sys/kernel/core_pattern");
  attack_on("open_wr_sysrq_trigger", a_open_wronly, "/proc/sysrq-trigger", "/proc/sysrq-trigger");
  attack_on("open_wr_uevent_helper", a_open_wronly, "/sys/kernel/uevent_helper", "/sys/kernel/uevent_helper");
  const char *reads[] = {"/proc/kcore", "/proc/keys", "/proc/timer_list"};
  static char buf[1 << 16];
  for (int i = 0; i < 3; i++) {
    errno = 0;
    long n = -1;
    int err = 0;
    if (i == 0) {
      /* Never read kcore whole: 64 bytes tell whether it is readable. */
      int fd = open(reads[i], O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        n = read(fd, buf, 64);
        err = errno;
        close(fd);
      } else {
        err = errno;
      }
      buf[n > 0 ? n : 0] = '\0';
    } else {
      n = read_file(reads[i], buf, sizeof buf);
      err = errno;
    }
    begin("read_proc");
    field_s("path", reads[i]);
    field_l("ret", n);
    field_l("errno", n < 0 ? err : 0);
    if (n > 0 && i != 0) {
      buf[n > 400 ? 400 : n] = '\0';
      field_s("head", buf);
    }
    end_line();
  }
}

/* T11 */
static void check_exe(void) {
  attack("open_wr_self_exe", a_open_wronly, "/proc/self/exe");
  const char *runtime_paths[] = {"/usr/bin/bwrap", "/usr/bin/runsc", "/usr/sbin/runsc", "/usr/local/bin/runsc",
                                 "/usr/local/bin/node", "/usr/bin/node", "/usr/bin/prlimit", "/proc/1/exe"};
  for (size_t i = 0; i < sizeof runtime_paths / sizeof runtime_paths[0]; i++) {
    attack_on("open_wr_runtime", a_open_wronly, runtime_paths[i], runtime_paths[i]);
  }
  DIR *d = opendir("/proc");
  struct dirent *e;
  while (d != NULL && (e = readdir(d)) != NULL) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    char path[300], target[PATH_MAX];
    snprintf(path, sizeof path, "/proc/%s/exe", e->d_name);
    ssize_t n = readlink(path, target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    int err = errno;
    if (fd >= 0) close(fd);
    begin("proc_exe");
    field_s("path", path);
    field_s("target", target);
    field_l("ret", fd);
    field_l("errno", fd < 0 ? err : 0);
    end_line();
  }
  if (d != NULL) closedir(d);
}

/* T14: one connect attempt per socket; a leading '@' names an abstract socket. */
static void check_unix(const char *name) {
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  socklen_t len;
  size_t n = strlen(name);
  if (n >= sizeof sa.sun_path) n = sizeof sa.sun_path - 1;
  if (name[0] == '@') {
    memcpy(sa.sun_path + 1, name + 1, n - 1);
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
  } else {
    memcpy(sa.sun_path, name, n);
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
  }
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int r = s < 0 ? -1 : connect(s, (struct sockaddr *)&sa, len);
  int err = errno;
  if (s >= 0) close(s);
  begin("unix_connect");
  field_s("path", name);
  field_l("ret", r);
  field_l("errno", r < 0 ? err : 0);
  end_line();
}

/*
 * T19: O_CREAT|O_EXCL of a fresh name only creates a file where a control is missing, and then the
 * file is removed at once; on a read-only mount the kernel answers EROFS before any permission check.
 */
static void check_readonly(const char *self, const char *suid_helper) {
  const char *dirs[] = {"/usr", "/etc", "/", "/usr/bin"};
  for (int i = 0; i < 4; i++) {
    char path[256];
    snprintf(path, sizeof path, "%s/.airlock-probe-%d", strcmp(dirs[i], "/") == 0 ? "" : dirs[i], (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int err = errno;
    if (fd >= 0) {
      close(fd);
      unlink(path);
    }
    begin("create_in");
    field_s("dir", dirs[i]);
    field_l("ret", fd);
    field_l("errno", fd < 0 ? err : 0);
    end_line();
  }
  report_statvfs("statvfs", "/");
  report_statvfs("statvfs", "/usr");
  report_statvfs("statvfs", "/tmp");
  report_statvfs("statvfs", self);
  if (suid_helper != NULL) {
    struct stat st;
    int r = stat(suid_helper, &st);
    char out[256];
    char *const argv[] = {(char *)suid_helper, NULL};
    int status = run_capture(argv, out, sizeof out);
    chomp(out);
    begin("suid_exec");
    field_s("path", suid_helper);
    field_l("stat_ret", r);
    field_l("mode", r == 0 ? (long)(st.st_mode & 07777) : -1);
    field_l("owner", r == 0 ? (long)st.st_uid : -1);
    field_l("status", status);
    field_s("out", out);
    end_line();
  }
}

/* Mount table as the sandbox sees it (mount point, fs type, per-mount options). */
static void check_mountinfo(void) {
  static char buf[1 << 16];
  long n = read_file("/proc/self/mountinfo", buf, sizeof buf);
  if (n < 0) {
    report_call("mountinfo", NULL, NULL, -1, errno);
    return;
  }
  for (char *line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n")) {
    char point[512], opts[512], fstype[128];
    /* id parent major:minor root mountpoint options ... - fstype source superopts */
    if (sscanf(line, "%*s %*s %*s %*s %511s %511s", point, opts) != 2) continue;
    char *dash = strstr(line, " - ");
    if (dash == NULL || sscanf(dash + 3, "%127s", fstype) != 1) continue;
    begin("mount");
    field_s("point", point);
    field_s("options", opts);
    field_s("fstype", fstype);
    end_line();
  }
}

/* T20 */
static void check_namespaces(void) {
  const char *kinds[] = {"pid", "mnt", "net", "ipc", "uts", "user", "cgroup"};
  for (int i = 0; i < 7; i++) {
    char path[64], target[256];
    snprintf(path, sizeof path, "/proc/self/ns/%s", kinds[i]);
    ssize_t n = readlink(path, target, sizeof target - 1);
    int err = errno;
    target[n > 0 ? n : 0] = '\0';
    begin("ns");
    field_s("kind", kinds[i]);
    field_l("ret", n);
    field_l("errno", n < 0 ? err : 0);
    field_s("link", target);
    end_line();
  }
}

/* T21 */
static void check_dev(void) {
  DIR *d = opendir("/dev");
  if (d == NULL) {
    report_call("dev_list", NULL, NULL, -1, errno);
    return;
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char path[300];
    snprintf(path, sizeof path, "/dev/%s", e->d_name);
    struct stat st;
    if (lstat(path, &st) != 0) continue;
    const char *type = S_ISCHR(st.st_mode) ? "char" : S_ISBLK(st.st_mode) ? "block" : S_ISDIR(st.st_mode) ? "dir"
                     : S_ISLNK(st.st_mode) ? "symlink" : S_ISREG(st.st_mode) ? "file" : "other";
    begin("dev");
    field_s("name", e->d_name);
    field_s("type", type);
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      field_l("major", (long)major(st.st_rdev));
      field_l("minor", (long)minor(st.st_rdev));
    }
    end_line();
  }
  closedir(d);
}

static int mode_checks(int argc, char **argv) {
  check_fds();
  const char *suid = NULL;
  for (int i = 2; i + 1 < argc; i++)
    if (strcmp(argv[i], "--suid") == 0) suid = argv[i + 1];
  check_identity();
  check_syscalls();
  check_tty_and_userns();
  check_cgroup();
  check_proc_sys();
  check_exe();
  for (int i = 2; i + 1 < argc; i++)
    if (strcmp(argv[i], "--unix") == 0) check_unix(argv[++i]);
  check_readonly(argv[0], suid);
  check_mountinfo();
  check_namespaces();
  check_dev();
  begin("done");
  end_line();
  return 0;
}

/* ---------- T16 ---------- */

/* Returns once stdin reaches EOF (at once when it is /dev/null) or after `seconds`. */
static void wait_stdin_eof(int seconds) {
  char buf[256];
  struct pollfd pfd = {.fd = 0, .events = POLLIN};
  for (int waited = 0; waited < seconds * 10; waited++) {
    if (poll(&pfd, 1, 100) > 0 && read(0, buf, sizeof buf) <= 0) return;
  }
}

/*
 * Writes /tmp/MARKER, takes MARKER as its process name, reports, then waits until stdin reaches
 * EOF (or SECONDS pass) and reports whether its file is still intact.
 */
static int mode_hold(const char *marker, int seconds) {
  char path[256], buf[256];
  snprintf(path, sizeof path, "/tmp/%s", marker);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd >= 0) {
    dprintf(fd, "secret-of-%s", marker);
    close(fd);
  }
  prctl(PR_SET_NAME, marker, 0, 0, 0);
  begin("hold");
  field_l("pid", getpid());
  field_l("file", fd >= 0 ? 1 : 0);
  end_line();
  wait_stdin_eof(seconds);
  long n = read_file(path, buf, sizeof buf);
  begin("hold_end");
  field_s("file", n > 0 ? buf : "");
  end_line();
  return 0;
}

static long a_ptrace_attach(const void *arg) { return ptrace(PTRACE_ATTACH, *(const pid_t *)arg, NULL, NULL); }

static int mode_cross(int argc, char **argv) {
  const char *marker = argv[2];
  char buf[4096], path[300];
  /* Every visible process: none may carry the neighbour's name or see its /tmp. */
  DIR *d = opendir("/proc");
  struct dirent *e;
  while (d != NULL && (e = readdir(d)) != NULL) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    snprintf(path, sizeof path, "/proc/%s/comm", e->d_name);
    long n = read_file(path, buf, sizeof buf);
    if (n > 0) chomp(buf);
    begin("visible_process");
    field_l("pid", atol(e->d_name));
    field_s("comm", n > 0 ? buf : "");
    end_line();
    snprintf(path, sizeof path, "/proc/%s/root/tmp/%s", e->d_name, marker);
    n = read_file(path, buf, sizeof buf);
    report_call("read_neighbour_file", "path", path, n, errno);
  }
  if (d != NULL) closedir(d);
  snprintf(path, sizeof path, "/tmp/%s", marker);
  long n = read_file(path, buf, sizeof buf);
  report_call("read_neighbour_file", "path", path, n, errno);
  for (int i = 3; i < argc; i++) {
    pid_t pid = (pid_t)atol(argv[i]);
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    struct stat st;
    begin("hostpid_local");
    field_l("pid", pid);
    field_l("exists_here", stat(path, &st) == 0 ? 1 : 0);
    end_line();
    errno = 0;
    int r = kill(pid, 0);
    begin("kill_hostpid");
    field_l("pid", pid);
    field_l("ret", r);
    field_l("errno", r < 0 ? errno : 0);
    end_line();
    begin("ptrace_hostpid");
    field_l("pid", pid);
    end_line();
    attack("ptrace_attach_hostpid", a_ptrace_attach, &pid);
    snprintf(path, sizeof path, "/proc/%d/root/tmp/%s", (int)pid, marker);
    n = read_file(path, buf, sizeof buf);
    report_call("read_neighbour_file", "path", path, n, errno);
  }
  begin("done");
  end_line();
  wait_stdin_eof(60);
  return 0;
}

/* ---------- T17/T22 workloads ---------- */

__attribute__((noreturn)) static int mode_forkbomb(void) {
  for (;;) {
    pid_t p = fork();
    if (p < 0) usleep(10000);
  }
}

static int mode_fdflood(void) {
  long opened = 0;
  int err = 0;
  for (;;) {
    int fd = open("/dev/null", O_RDONLY);
    if (fd < 0) {
      err = errno;
      break;
    }
    opened++;
  }
  begin("fdflood");
  field_l("opened", opened);
  field_l("errno", err);
  end_line();
  /* Hold every descriptor for a while so a sampler can observe the limit being hit. */
  sleep(1);
  return 1;
}

static int mode_balloon(long mb) {
  for (long i = 0; mb <= 0 || i < mb; i++) {
    char *p = malloc(1 << 20);
    if (p == NULL) return 3;
    memset(p, 0xa5, 1 << 20);
  }
  return 0;
}

int main(int argc, char **argv) {
  /* A probe never runs on the host: refuse host root outright. */
  if (geteuid() == 0 || getuid() == 0) {
    fprintf(stderr, "probe: refusing to run as root (probes run only inside sandboxes)\n");
    return 99;
  }
  const char *mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "checks") == 0) return mode_checks(argc, argv);
  if (strcmp(mode, "hold") == 0 && argc > 3) return mode_hold(argv[2], atoi(argv[3]));
  if (strcmp(mode, "cross") == 0 && argc > 2) return mode_cross(argc, argv);
  if (strcmp(mode, "forkbomb") == 0) return mode_forkbomb();
  if (strcmp(mode, "fdflood") == 0) return mode_fdflood();
  if (strcmp(mode, "balloon") == 0) return mode_balloon(argc > 2 ? atol(argv[2]) : 0);
  if (strcmp(mode, "selfkill") == 0) {
    raise(SIGKILL);
    return 0;
  }
  if (strcmp(mode, "sleep") == 0 && argc > 2) {
    sleep((unsigned)atoi(argv[2]));
    return 0;
  }
  if (strcmp(mode, "hello") == 0) {
    puts("hello");
    return 0;
  }
  fprintf(stderr, "usage: probe checks|hold|cross|forkbomb|fdflood|balloon|selfkill|sleep|hello\n");
  return 2;
}
