/* File, /proc, device, namespace and identity checks of `probe checks` (T1, T8, T10-T11, T14, T19-T21). */
#include "probe.h"

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




/* T10 */
static void check_proc_sys(void) {
  attack_on("open_wr_core_pattern", a_open_wronly, "/proc/sys/kernel/core_pattern", "/proc/sys/kernel/core_pattern");
  attack_on("open_wr_sysrq_trigger", a_open_wronly, "/proc/sysrq-trigger", "/proc/sysrq-trigger");
  attack_on("open_wr_uevent_helper", a_open_wronly, "/sys/kernel/uevent_helper", "/sys/kernel/uevent_helper");
  /* No core dumps either: a crash must not hand memory to the host's core_pattern helper. */
  struct rlimit core;
  int core_ret = getrlimit(RLIMIT_CORE, &core);
  begin("rlimit_core");
  field_l("ret", core_ret);
  field_l("soft", core_ret == 0 ? (long)core.rlim_cur : -1);
  field_l("hard", core_ret == 0 ? (long)core.rlim_max : -1);
  end_line();
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
static void check_readonly(const char *suid_helper) {
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

int mode_checks(int argc, char **argv) {
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
  check_readonly(suid);
  check_mountinfo();
  check_namespaces();
  check_dev();
  begin("done");
  end_line();
  return 0;
}
