/*
 * airlock-seccomp-audit: every syscall a sandbox's seccomp filter denied, for all sandboxes of a
 * controller at once. Reads the kernel audit's read-only multicast group (AUDIT_NLGRP_READLOG,
 * needs CAP_AUDIT_READ): the kernel sends one AUDIT_SECCOMP record per denial of a filter loaded
 * with SECCOMP_FILTER_FLAG_LOG (the agent's --seccomp-log loads such a copy of the sandbox filter).
 *
 * Why this and not /dev/kmsg: kmsg is rate-limited and drops records; the multicast group is fed
 * before any printk, the caller waits (not drops) while the audit backlog is full, and a large
 * receive buffer (SO_RCVBUFFORCE) absorbs a burst. A buffer overrun is still detected (ENOBUFS)
 * and reported, never silent.
 *
 * Attribution: the record's auid. The launcher of each sandbox sets its own loginuid to a value
 * unique to the sandbox before it starts bubblewrap; every process of the sandbox inherits it and
 * can't change it (no CAP_AUDIT_CONTROL), so a denial attributes even when the process is gone by
 * the time the record is read (measured: a 20,000-denial burst is read well after its process
 * exited). The cgroup (/proc/PID/cgroup, resolved at receipt) is a fallback for processes
 * started without a loginuid.
 *
 * stdin, one line each: "sync ID" asks for a barrier. The helper then makes one denied call of
 * its own (its own filter, loaded with SECCOMP_FILTER_FLAG_LOG, refuses acct(2) with EPERM); the
 * kernel queues audit records in order, so when that record comes back every denial made before
 * the request has been read, and it answers "sync ID".
 *
 * stdout, one line each: first "ready" or "fail REASON"; then
 *   "d SERIAL PID SYSCALL ARCH CODE AUID CGROUP_PATH_OR_- COMM"   (one denial)
 *   "lost N"                                                             (records the kernel dropped)
 *   "sync ID"                                                            (the barrier ID was reached)
 * Exits when its parent dies, or stdin or stdout closes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <linux/netlink.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef AUDIT_NLGRP_READLOG
#define AUDIT_NLGRP_READLOG 1
#endif

/* Why 64 MiB: at ~250 bytes a record this holds >200,000 denials while the reader is descheduled. */
#define RCVBUF (64 << 20)

static char out[1 << 16];
static size_t outlen;

static void flush_out(void) {
  size_t off = 0;
  while (off < outlen) {
    ssize_t n = write(1, out + off, outlen - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(0); /* the controller went away */
    off += (size_t)n;
  }
  outlen = 0;
}

static void put(const char *s, size_t n) {
  if (outlen + n > sizeof out) flush_out();
  memcpy(out + outlen, s, n);
  outlen += n;
}

/* The value of `key=` in an audit record, up to the next space (quotes kept off). */
static int field(const char *rec, const char *key, char *val, size_t cap) {
  size_t kl = strlen(key);
  for (const char *p = rec; (p = strstr(p, key)) != NULL; p += kl) {
    if (p != rec && p[-1] != ' ') continue;
    if (p[kl] != '=') continue;
    const char *v = p + kl + 1;
    if (*v == '"') v++;
    size_t n = strcspn(v, "\" \n");
    if (n >= cap) n = cap - 1;
    memcpy(val, v, n);
    val[n] = 0;
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)val[i] <= ' ' || (unsigned char)val[i] > '~') val[i] = '?';
    return 1;
  }
  val[0] = '-', val[1] = 0;
  return 0;
}

/* The sandbox a pid belongs to: the first cgroup line (v2 "0::/path", else a v1 pids/memory line). */
static void cgroup_of(const char *pid, char *path, size_t cap) {
  char file[64];
  snprintf(file, sizeof file, "/proc/%s/cgroup", pid);
  strcpy(path, "-");
  FILE *f = fopen(file, "re");
  if (f == NULL) return;
  char line[4096];
  char best[4096] = "";
  while (fgets(line, sizeof line, f)) {
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (c2 == NULL) continue;
    c2[1 + strcspn(c2 + 1, "\n")] = 0;
    // Why prefer pids/memory on v1: those are the hierarchies a sandbox's cgroup is made in.
    if (strncmp(line, "0::", 3) == 0 || strstr(c1, "pids") != NULL || strstr(c1, "memory") != NULL) {
      if (best[0] == 0 || strstr(c1, "pids") != NULL) snprintf(best, sizeof best, "%s", c2 + 1);
    }
  }
  fclose(f);
  if (best[0] != 0) {
    snprintf(path, cap, "%s", best);
    for (char *p = path; *p; p++)
      if (*p == ' ') *p = '?';
  }
}

/* Pending barrier ids, in request order (a ring; further requests are refused until it drains). */
#define MAX_SYNCS 256
static char syncs[MAX_SYNCS][32];
static unsigned sync_head, sync_tail;
static char own_pid[16];

/* Refuses acct(2) with EPERM for this process, logged: the barrier's marker record. */
static int load_marker_filter(void) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_acct, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return -1;
  return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_LOG, &prog);
}

/* Reads "sync ID" lines from stdin; each queues ID and makes one marker denial. */
static int read_requests(void) {
  static char in[4096];
  static size_t inlen;
  ssize_t n = read(0, in + inlen, sizeof in - inlen);
  if (n <= 0) return -1;
  inlen += (size_t)n;
  char *nl;
  while ((nl = memchr(in, '\n', inlen)) != NULL) {
    *nl = 0;
    if (strncmp(in, "sync ", 5) == 0 && sync_tail - sync_head < MAX_SYNCS) {
      snprintf(syncs[sync_tail % MAX_SYNCS], sizeof syncs[0], "%.31s", in + 5);
      sync_tail++;
      (void)syscall(SYS_acct, NULL); /* refused and audited: the marker */
    }
    size_t used = (size_t)(nl - in) + 1;
    memmove(in, in + used, inlen - used);
    inlen -= used;
  }
  if (inlen == sizeof in) inlen = 0; /* an overlong line is dropped */
  return 0;
}

static void record(const char *rec) {
  char serial[32] = "0", auid[16], pid[16], sc[16], arch[16], code[24], comm[64], cg[4096], line[4400];
  const char *colon = strchr(rec, ':');
  if (colon != NULL) snprintf(serial, sizeof serial, "%.*s", (int)strcspn(colon + 1, ")"), colon + 1);
  field(rec, "pid", pid, sizeof pid);
  field(rec, "auid", auid, sizeof auid);
  field(rec, "syscall", sc, sizeof sc);
  field(rec, "arch", arch, sizeof arch);
  field(rec, "code", code, sizeof code);
  field(rec, "comm", comm, sizeof comm);
  if (strcmp(pid, own_pid) == 0) {
    if (sync_head != sync_tail) {
      char done[64];
      int m = snprintf(done, sizeof done, "sync %s\n", syncs[sync_head % MAX_SYNCS]);
      sync_head++;
      if (m > 0) put(done, (size_t)m);
    }
    return;
  }
  cgroup_of(pid, cg, sizeof cg);
  int n = snprintf(line, sizeof line, "d %s %s %s %s %s %s %s %s\n", serial, pid, sc, arch, code, auid, cg, comm);
  if (n > 0) put(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

int main(void) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGPIPE, SIG_IGN);
  int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
  int size = RCVBUF;
  struct sockaddr_nl addr = {.nl_family = AF_NETLINK, .nl_groups = 1u << (AUDIT_NLGRP_READLOG - 1)};
  if (s < 0 || setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) < 0) {
    printf("fail audit multicast: %s\n", strerror(errno));
    return 1;
  }
  snprintf(own_pid, sizeof own_pid, "%d", (int)getpid());
  if (load_marker_filter() < 0) {
    printf("fail marker filter: %s\n", strerror(errno));
    return 1;
  }
  put("ready\n", 6);
  flush_out();
  static char buf[1 << 16];
  for (;;) {
    struct pollfd pfd[2] = {{.fd = s, .events = POLLIN}, {.fd = 0, .events = POLLIN}};
    // Block only when nothing is pending; write out what was parsed before sleeping.
    int ready = poll(pfd, 2, outlen > 0 ? 0 : -1);
    if (ready == 0) {
      flush_out();
      continue;
    }
    if (ready < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (pfd[1].revents != 0 && read_requests() < 0) {
      flush_out();
      return 0; /* the controller closed stdin */
    }
    if (pfd[0].revents == 0) continue;
    ssize_t r = recv(s, buf, sizeof buf - 1, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == ENOBUFS) put("lost 1\n", 7); /* count unknown: at least one */
      if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) continue;
      flush_out();
      return 1;
    }
    // Each message is copied out before it is NUL-terminated: the next one may follow unpadded.
    static char rec[8192];
    size_t left = (size_t)r;
    for (const char *p = buf; left >= NLMSG_HDRLEN;) {
      const struct nlmsghdr *h = (const struct nlmsghdr *)p;
      if (h->nlmsg_len < NLMSG_HDRLEN || h->nlmsg_len > left) break;
      if (h->nlmsg_type == AUDIT_SECCOMP) {
        size_t len = h->nlmsg_len - NLMSG_HDRLEN;
        if (len >= sizeof rec) len = sizeof rec - 1;
        memcpy(rec, p + NLMSG_HDRLEN, len);
        rec[len] = 0;
        record(rec);
      }
      size_t step = NLMSG_ALIGN(h->nlmsg_len);
      if (step >= left) break;
      left -= step;
      p += step;
    }
  }
}
