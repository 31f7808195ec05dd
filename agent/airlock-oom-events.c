/*
 * airlock-oom-events: cgroup v1 OOM notifications for many memory cgroups at once (cgroup v2
 * reports them through inotify on memory.events; v1 only through an eventfd registered with
 * cgroup.event_control, which Node cannot create).
 *
 * stdin, one command a line:  "add ID DIR" (DIR: a v1 memory cgroup directory)  |  "del ID"
 * stdout, one line each:      "ok ID" | "err ID reason" (answers to add)  |  "oom ID" (an event)
 *
 * An event means "memory.oom_control may have changed" (the kernel also signals when the cgroup
 * is removed): the reader reads the counter itself. Exits when stdin closes or its parent dies.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#define MAX_ID 0x100000 /* ids are small integers the controller reuses */
#define STDIN_KEY UINT64_MAX

static int *efds;
static size_t nefds;

static void say(const char *fmt, unsigned long id, const char *reason) {
  char line[512];
  int n = snprintf(line, sizeof line, fmt, id, reason);
  if (n < 0) return;
  if ((size_t)n >= sizeof line) n = sizeof line - 1;
  if (write(1, line, (size_t)n) != n) exit(1);
}

static int slot(unsigned long id) {
  if (id >= MAX_ID) return -1;
  if (id >= nefds) {
    size_t n = nefds == 0 ? 1024 : nefds;
    while (n <= id) n *= 2;
    int *grown = realloc(efds, n * sizeof *efds);
    if (grown == NULL) return -1;
    for (size_t i = nefds; i < n; i++) grown[i] = -1;
    efds = grown;
    nefds = n;
  }
  return 0;
}

static void drop(unsigned long id) {
  if (id < nefds && efds[id] >= 0) {
    close(efds[id]);
    efds[id] = -1;
  }
}

static void add(int ep, unsigned long id, const char *dir) {
  char path[4096];
  if (slot(id) < 0) {
    say("err %lu %s\n", id, "id out of range");
    return;
  }
  drop(id);
  int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) {
    say("err %lu eventfd: %s\n", id, strerror(errno));
    return;
  }
  snprintf(path, sizeof path, "%s/memory.oom_control", dir);
  int ofd = open(path, O_RDONLY | O_CLOEXEC);
  if (ofd < 0) {
    say("err %lu memory.oom_control: %s\n", id, strerror(errno));
    close(efd);
    return;
  }
  snprintf(path, sizeof path, "%s/cgroup.event_control", dir);
  int cfd = open(path, O_WRONLY | O_CLOEXEC);
  char reg[64];
  int n = snprintf(reg, sizeof reg, "%d %d", efd, ofd);
  int saved = 0;
  if (cfd < 0 || write(cfd, reg, (size_t)n) != n) saved = errno;
  if (cfd >= 0) close(cfd);
  /* The registration holds what it needs: the file itself is no longer. */
  close(ofd);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = id};
  if (saved == 0 && epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) < 0) saved = errno;
  if (saved != 0) {
    say("err %lu cgroup.event_control: %s\n", id, strerror(saved));
    close(efd);
    return;
  }
  efds[id] = efd;
  say("ok %lu%s\n", id, "");
}

/* Runs each complete line of buf[0..*len); keeps the rest. */
static void commands(int ep, char *buf, size_t *len) {
  char *start = buf, *nl;
  while ((nl = memchr(start, '\n', *len - (size_t)(start - buf))) != NULL) {
    *nl = 0;
    unsigned long id;
    int off = 0;
    if (sscanf(start, "add %lu %n", &id, &off) == 1 && off > 0) add(ep, id, start + off);
    else if (sscanf(start, "del %lu", &id) == 1) drop(id);
    start = nl + 1;
  }
  *len -= (size_t)(start - buf);
  memmove(buf, start, *len);
}

int main(void) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1) return 1;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event in = {.events = EPOLLIN, .data.u64 = STDIN_KEY};
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, 0, &in) < 0) return 1;
  static char buf[65536];
  size_t len = 0;
  for (;;) {
    struct epoll_event evs[64];
    int n = epoll_wait(ep, evs, 64, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return 1;
    for (int i = 0; i < n; i++) {
      uint64_t key = evs[i].data.u64;
      if (key == STDIN_KEY) {
        if (len == sizeof buf) len = 0; /* a line longer than any command: drop it */
        ssize_t r = read(0, buf + len, sizeof buf - len);
        if (r == 0) return 0;
        if (r < 0 && errno != EINTR && errno != EAGAIN) return 1;
        if (r > 0) len += (size_t)r;
        commands(ep, buf, &len);
        continue;
      }
      uint64_t count;
      if (key < nefds && efds[key] >= 0 && read(efds[key], &count, sizeof count) == sizeof count) say("oom %lu%s\n", (unsigned long)key, "");
    }
  }
}
