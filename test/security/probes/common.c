/* Output, forked-attack runner and small helpers of the probe. */
#include "probe.h"

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
void begin(const char *check) {
  fputs("{\"check\":", stdout);
  json_str(check);
}
void field_s(const char *key, const char *value) {
  printf(",\"%s\":", key);
  json_str(value);
}
void field_l(const char *key, long value) { printf(",\"%s\":%ld", key, value); }
void end_line(void) {
  fputs("}\n", stdout);
  fflush(stdout);
}

/* ---------- forked attack runner ---------- */

/* What the child hands back through its pipe. */
struct report {
  long ret;
  int err;
};

/*
 * Runs fn in a forked child and reports its return value, errno, and the signal that killed the
 * child (0 if none). Nothing the call does can outlive the child.
 */
void attack_on(const char *name, attack_fn fn, const void *arg, const char *path) {
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

void attack(const char *name, attack_fn fn, const void *arg) { attack_on(name, fn, arg, NULL); }


void report_call(const char *check, const char *key, const char *value, long ret, int err) {
  begin(check);
  if (key != NULL) field_s(key, value);
  field_l("ret", ret);
  field_l("errno", ret < 0 ? err : 0);
  end_line();
}

/* Runs argv, returns the exit status, copies up to cap-1 bytes of stdout into out. */
int run_capture(char *const argv[], char *out, size_t cap) {
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

void chomp(char *s) {
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ')) s[--n] = '\0';
}

/* Reads a whole small file (up to cap-1 bytes); returns bytes read or -1 with errno. */
long read_file(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return -1;
  size_t n = 0;
  ssize_t r = 0;
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

/* Returns once stdin reaches EOF (at once when it is /dev/null) or after `seconds`. */
void wait_stdin_eof(int seconds) {
  char buf[256];
  struct pollfd pfd = {.fd = 0, .events = POLLIN};
  for (int waited = 0; waited < seconds * 10; waited++) {
    if (poll(&pfd, 1, 100) > 0 && read(0, buf, sizeof buf) <= 0) return;
  }
}
