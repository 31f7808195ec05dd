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
 * Sources: probe.c (modes), checks.c and syscalls.c (the batched checks), common.c (output).
 *
 * Modes:
 *   probe checks [--suid PATH] [--unix PATH_OR_@NAME]...   every in-sandbox check, batched
 *   probe hold MARKER SECONDS                              write /tmp/MARKER, rename self, sleep
 *   probe cross MARKER HOSTPID...                          try to see/signal/trace/read a neighbour
 *   probe forkbomb | fdflood | balloon MB | selfkill | sleep SECONDS
 */
#include "probe.h"

/* ---------- T16 ---------- */

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

long a_ptrace_attach(const void *arg) { return ptrace(PTRACE_ATTACH, *(const pid_t *)arg, NULL, NULL); }

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
