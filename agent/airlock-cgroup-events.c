/*
 * airlock-cgroup-events: the kernel's limit events of many cgroup v1 sandboxes at once, for a
 * controller that can't receive them itself (Node can't make an eventfd or poll /dev/kmsg):
 *
 * - OOM: an eventfd per memory cgroup, registered with cgroup.event_control (v1 has no
 *   memory.events to watch with inotify).
 * - pids-limit hits: v1 pids.events sends no inotify event on 6.12+ kernels, but the kernel logs
 *   "cgroup: fork rejected by pids controller in PATH" on a cgroup's first refused fork; this
 *   reads /dev/kmsg (from its end) and reports PATH. If records were lost before they were read,
 *   it says so, and the controller re-reads every counter.
 *
 * stdin, one command a line:  "add ID DIR" (DIR: a v1 memory cgroup directory)  |  "del ID"
 * stdout, one line each: first "ready kmsg" or "ready nokmsg REASON"; then "ok ID" | "err ID
 * REASON" (answers to add, in order), "oom ID", "pids PATH", "lost".
 *
 * Every event only means "a counter may have changed": the controller reads the counter itself,
 * so a line in the log that merely looks like the kernel's costs a read, nothing more.
 * Exits when stdin closes or its parent dies.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
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
#define KMSG_KEY (UINT64_MAX - 1)
#define PIDS_MARK "cgroup: fork rejected by pids controller in "

static int *efds;
static size_t nefds;

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...) {
  char line[4200];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
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
  say("ok %lu\n", id);
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

/* Reads every record /dev/kmsg has now (one per read); reports refused forks and lost records. */
static void kmsg_records(int kmsg) {
  char rec[8192];
  for (;;) {
    ssize_t r = read(kmsg, rec, sizeof rec - 1);
    if (r < 0 && errno == EPIPE) {
      say("lost\n");
      continue;
    }
    if (r <= 0) return;
    rec[r] = 0;
    /* "PRIO,SEQ,TIME,FLAGS;MESSAGE\n" (then dictionary lines starting with a space). */
    char *text = strchr(rec, ';');
    if (text == NULL || strncmp(text + 1, PIDS_MARK, strlen(PIDS_MARK)) != 0) continue;
    char *path = text + 1 + strlen(PIDS_MARK);
    path[strcspn(path, "\n")] = 0;
    say("pids %s\n", path);
  }
}

int main(void) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1) return 1;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event in = {.events = EPOLLIN, .data.u64 = STDIN_KEY};
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, 0, &in) < 0) return 1;
  int kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  struct epoll_event km = {.events = EPOLLIN, .data.u64 = KMSG_KEY};
  if (kmsg < 0 || lseek(kmsg, 0, SEEK_END) < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, kmsg, &km) < 0) {
    say("ready nokmsg /dev/kmsg: %s\n", strerror(errno));
    if (kmsg >= 0) close(kmsg);
    kmsg = -1;
  } else {
    say("ready kmsg\n");
  }
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
      if (key == KMSG_KEY) {
        kmsg_records(kmsg);
        continue;
      }
      uint64_t count;
      if (key < nefds && efds[key] >= 0 && read(efds[key], &count, sizeof count) == sizeof count) say("oom %lu\n", (unsigned long)key);
    }
  }
}
