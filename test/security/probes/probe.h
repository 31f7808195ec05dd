/* Shared declarations of the in-sandbox probe (see probe.c). */
#ifndef AIRLOCK_PROBE_H
#define AIRLOCK_PROBE_H
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
#include <sys/resource.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

/* One JSON object per line: begin(check), fields, end_line(). */
void begin(const char *check);
void field_s(const char *key, const char *value);
void field_l(const char *key, long value);
void end_line(void);

/* Runs fn(arg) in a forked child and prints its return value, errno and killing signal. */
typedef long (*attack_fn)(const void *arg);
void attack_on(const char *name, attack_fn fn, const void *arg, const char *path);
void attack(const char *name, attack_fn fn, const void *arg);

/* Prints {"check":CHECK[,KEY:VALUE],"ret":RET,"errno":ERR}. */
void report_call(const char *check, const char *key, const char *value, long ret, int err);
/* Runs argv, returns its wait status, copies its stdout (at most cap-1 bytes) into out. */
int run_capture(char *const argv[], char *out, size_t cap);
void chomp(char *s);
/* Reads a small file whole; returns the bytes read or -1 with errno. */
long read_file(const char *path, char *buf, size_t cap);
/* Returns once stdin reaches EOF (at once when it is /dev/null) or after `seconds`. */
void wait_stdin_eof(int seconds);

/* Attack bodies shared by several checks. */
long a_open_wronly(const void *arg);
long a_ptrace_attach(const void *arg);

/* The check groups of `probe checks` (checks.c, syscalls.c). */
void check_syscalls(void);
void check_tty_and_userns(void);
void check_cgroup(void);
int mode_checks(int argc, char **argv);

#endif
