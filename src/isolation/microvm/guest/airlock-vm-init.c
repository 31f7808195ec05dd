/*
 * airlock-vm-init: pid 1 of a `microvm` guest, from its initramfs.
 *
 * Boot: mounts /dev, /proc, /sys; loads the kernel modules listed in /modules (in order); finds
 * the virtio-serial port named "airlock.ctl", says "channel open" on the console and waits there
 * for the host. That wait is where a snapshot is taken (src/isolation/microvm/snapshot.ts): a guest
 * restored from it resumes in the same read, so nothing above may depend on this boot alone.
 * Once the host's first bytes arrive it reads the per-boot secret QEMU exposes as the fw_cfg file
 * "opt/airlock/secret" (port I/O, no module needed): read then, not at boot, because fw_cfg is
 * the running VMM's, so a restored guest gets its own VMM's secret, never the snapshot's.
 *
 * Handshake on the port (host -> guest): 32 secret bytes, then the host's clock (u64 LE
 * nanoseconds since the epoch) and 32 bytes of fresh entropy, set and mixed in before anything
 * else runs (a restored guest would otherwise share its clock and its random state with every
 * other guest restored from the same snapshot), then 16 bytes of settings
 * (u32 LE scratch MiB | memory MiB | pids | open files), then the network block (u32 LE mode:
 * 0 none, 1 attached | IPv4 address, 4 bytes in network order | u32 LE prefix length | IPv4
 * gateway, network order, 0.0.0.0 for none | u32 LE length of resolv.conf, then its bytes), the
 * trust bundle (u32 LE length, 0 for none, then its bytes), the secrets (u32 LE count, then for
 * each: u32 LE name length, the name, u32 LE value length, the value) and the grants (u32 LE
 * count, then for each: u32 LE flags, 1 writable | 2 a file, u32 LE path length, the path; the
 * N-th is the virtio-fs share `airlock<N>`), then u32 LE reporting flags (1: seccomp denials).
 * A wrong secret: "DENY" and power off. Otherwise loopback is brought up; an attached network
 * configures eth0 (virtio-net) with the address, the gateway as default route, and resolv.conf
 * as a read-only layer of the root; any step that fails powers the guest off (the host reports
 * the console's last lines). Then the image root (erofs on /dev/vda) is mounted read-only under a read-only overlay
 * holding the agent and the mount points (and the trust bundle at /etc/ssl/certs/ca-certificates.crt
 * when one was sent), scratch is a tmpfs of the given size at /tmp, the secrets are 0400 files
 * of uid 65534 on a read-only tmpfs of their own at /run/secrets (mode 0500; none sent: no
 * /run/secrets at all), the
 * sandbox's processes go into a guest cgroup with the memory and pids limits, and the reply is
 * "AOK1". Then the agent (agent/airlock-agent.c) runs chrooted there as uid/gid 65534, with no
 * capabilities, no_new_privs and the project's seccomp filter (/seccomp.bpf), its fds 0/1 a
 * socket pair that this process relays to and from the port unchanged, except that before each
 * EXIT event it sends a COUNTERS frame (type 0xc0, channel 0: u64 LE oom kills | pids.max hits |
 * memory peak bytes of the guest cgroup | 1 when scratch has no free block left | 1 once a process
 * was seen at its RLIMIT_NOFILE, sampled every 250 ms), and again
 * whenever the guest cgroup's pids.events or memory.events changes. When either side closes, the guest powers off.
 *
 * Build: gcc -static-pie (src/isolation/microvm/initramfs.ts).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <grp.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/random.h>
#include <time.h>
#include <linux/seccomp.h>

#define SECRET_BYTES 32
#define ENTROPY_BYTES 32
#define SANDBOX_ID 65534
#define EV_EXIT 0x84
#define EV_COUNTERS 0xc0
#define EV_DENIAL 0xc1
#define HDR 9
#define FW_CFG_PORT_SEL 0x510
#define FW_CFG_PORT_DATA 0x511
#define FW_CFG_FILE_DIR 0x19
#define MAX_RESOLV 4096
/* The host's limits (src/secrets: 32 per request, 64 KiB each; trust-store.ts: a 4 MiB image bundle + anchors). */
#define MAX_SECRETS 64
#define MAX_SECRET_NAME 63
#define MAX_SECRET_VALUE (64 * 1024)
#define MAX_TRUST_BUNDLE (8 * 1024 * 1024)
#define PAGE 4096

static void say(const char *fmt, const char *arg) {
  dprintf(2, "airlock-vm-init: ");
  dprintf(2, fmt, arg);
  dprintf(2, "\n");
}

static __attribute__((noreturn)) void halt(void) {
  sync();
  reboot(RB_POWER_OFF);
  for (;;) pause();
}

static __attribute__((noreturn)) void fail(const char *what) {
  dprintf(2, "airlock-vm-init: %s: %s\n", what, strerror(errno));
  halt();
}

static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, text, strlen(text));
  close(fd);
  return n == (ssize_t)strlen(text) ? 0 : -1;
}

static uint64_t read_key(const char *path, const char *key) {
  char buf[4096];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  if (key == NULL) return strtoull(buf, NULL, 10);
  size_t klen = strlen(key);
  for (char *line = buf; line != NULL && *line != 0;) {
    if (strncmp(line, key, klen) == 0 && line[klen] == ' ') return strtoull(line + klen + 1, NULL, 10);
    line = strchr(line, '\n');
    if (line != NULL) line++;
  }
  return 0;
}

static void load_modules(const char *list_path) {
  FILE *list = fopen(list_path, "re");
  if (list == NULL) fail(list_path);
  char name[256];
  while (fgets(name, sizeof name, list) != NULL) {
    name[strcspn(name, "\n")] = 0;
    if (name[0] == 0) continue;
    char path[300];
    snprintf(path, sizeof path, "/lib/modules/%s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(path);
    if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST) fail(path);
    close(fd);
  }
  fclose(list);
}

static void fw_select(uint16_t key) { outw(key, FW_CFG_PORT_SEL); }
static void fw_read(void *out, size_t n) {
  uint8_t *p = out;
  for (size_t i = 0; i < n; i++) p[i] = inb(FW_CFG_PORT_DATA);
}

/* The secret QEMU read from its 0400 file at start: never on a command line or a disk. */
static void read_secret(uint8_t secret[SECRET_BYTES]) {
  if (ioperm(FW_CFG_PORT_SEL, 2, 1) != 0) fail("ioperm fw_cfg");
  fw_select(FW_CFG_FILE_DIR);
  uint32_t count_be;
  fw_read(&count_be, 4);
  uint32_t count = __builtin_bswap32(count_be);
  for (uint32_t i = 0; i < count && i < 4096; i++) {
    struct { uint32_t size; uint16_t select; uint16_t reserved; char name[56]; } entry;
    fw_read(&entry, sizeof entry);
    entry.name[55] = 0;
    if (strcmp(entry.name, "opt/airlock/secret") != 0) continue;
    if (__builtin_bswap32(entry.size) != SECRET_BYTES) break;
    fw_select(__builtin_bswap16(entry.select));
    fw_read(secret, SECRET_BYTES);
    // Why: sandbox code never gets I/O port access (no CAP_SYS_RAWIO), but nothing needs it after this.
    ioperm(FW_CFG_PORT_SEL, 2, 0);
    return;
  }
  errno = ENOENT;
  fail("fw_cfg opt/airlock/secret (32 bytes)");
}

static int open_port(void) {
  for (int tries = 0; tries < 2000; tries++) {
    DIR *d = opendir("/sys/class/virtio-ports");
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.') continue;
      char path[300], name[64] = {0};
      snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
      int fd = open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      ssize_t n = read(fd, name, sizeof name - 1);
      close(fd);
      if (n > 0 && strncmp(name, "airlock.ctl", 11) == 0) {
        snprintf(path, sizeof path, "/dev/%s", e->d_name);
        closedir(d);
        int port = open(path, O_RDWR | O_CLOEXEC);
        if (port < 0) fail(path);
        return port;
      }
    }
    if (d != NULL) closedir(d);
    usleep(5000);
  }
  errno = ENODEV;
  fail("virtio-serial port airlock.ctl");
}

static void read_full(int fd, void *out, size_t n, const char *what) {
  uint8_t *p = out;
  for (size_t done = 0; done < n;) {
    ssize_t r = read(fd, p + done, n - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) fail(what);
    done += (size_t)r;
  }
}

static int write_full(int fd, const void *data, size_t n) {
  const uint8_t *p = data;
  for (size_t done = 0; done < n;) {
    ssize_t w = write(fd, p + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      struct pollfd pfd = {.fd = fd, .events = POLLOUT};
      poll(&pfd, 1, -1);
      continue;
    }
    if (w <= 0) return -1;
    done += (size_t)w;
  }
  return 0;
}


/*
 * The host's clock and entropy, applied before anything else runs. Why: every guest restored from
 * one snapshot resumes with the snapshot's clock and the same kernel random state; the entropy is
 * credited and the generator reseeded at once, so no two guests draw the same numbers.
 */
static void fresh_state(int port) {
  struct {
    uint64_t now_ns;
    uint8_t entropy[ENTROPY_BYTES];
  } boot;
  read_full(port, &boot, sizeof boot, "read the clock and entropy");
  struct timespec now = {.tv_sec = (time_t)(boot.now_ns / 1000000000u), .tv_nsec = (long)(boot.now_ns % 1000000000u)};
  if (clock_settime(CLOCK_REALTIME, &now) != 0) fail("set the clock");
  struct {
    int entropy_count;
    int buf_size;
    uint8_t buf[ENTROPY_BYTES];
  } pool = {.entropy_count = ENTROPY_BYTES * 8, .buf_size = ENTROPY_BYTES};
  memcpy(pool.buf, boot.entropy, ENTROPY_BYTES);
  memset(&boot, 0, sizeof boot);
  int rnd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
  if (rnd < 0 || ioctl(rnd, RNDADDENTROPY, &pool) != 0 || ioctl(rnd, RNDRESEEDCRNG) != 0) fail("seed the random generator");
  memset(&pool, 0, sizeof pool);
  close(rnd);
}

struct net_settings {
  uint32_t mode;
  uint8_t address[4];
  uint32_t prefix;
  uint8_t gateway[4];
  uint32_t resolv_len;
};

static void set_sin(struct sockaddr *sa, const uint8_t ip[4]) {
  struct sockaddr_in *sin = (struct sockaddr_in *)sa;
  memset(sin, 0, sizeof *sin);
  sin->sin_family = AF_INET;
  memcpy(&sin->sin_addr, ip, 4);
}

static void link_up(int s, const char *name) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) fail(name);
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) fail(name);
}

/* Loopback always; an attached network's eth0, route and resolv.conf. Returns whether /net holds a layer. */
static int configure_network(const struct net_settings *net, const char *resolv) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) fail("network: socket");
  link_up(s, "lo");
  if (net->mode == 0) {
    close(s);
    return 0;
  }
  if (net->mode != 1 || net->prefix < 1 || net->prefix > 30) {
    errno = EINVAL;
    fail("network: settings");
  }
  // The virtio-net device is probed when its module loads; wait briefly for eth0 to exist.
  for (int tries = 0; if_nametoindex("eth0") == 0; tries++) {
    if (tries > 400) fail("network: eth0 (virtio-net) did not appear");
    usleep(5000);
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "eth0");
  set_sin(&ifr.ifr_addr, net->address);
  if (ioctl(s, SIOCSIFADDR, &ifr) != 0) fail("network: eth0 address");
  uint32_t mask = htonl(0xffffffffu << (32 - net->prefix));
  set_sin(&ifr.ifr_netmask, (const uint8_t *)&mask);
  if (ioctl(s, SIOCSIFNETMASK, &ifr) != 0) fail("network: eth0 netmask");
  link_up(s, "eth0");
  static const uint8_t none[4] = {0, 0, 0, 0};
  // Why no route without a gateway (restricted): anything but the on-link proxy fails at once, as on every tier.
  if (memcmp(net->gateway, none, 4) != 0) {
    struct rtentry rt;
    memset(&rt, 0, sizeof rt);
    set_sin(&rt.rt_dst, none);
    set_sin(&rt.rt_genmask, none);
    set_sin(&rt.rt_gateway, net->gateway);
    rt.rt_flags = RTF_UP | RTF_GATEWAY;
    rt.rt_dev = "eth0";
    if (ioctl(s, SIOCADDRT, &rt) != 0) fail("network: default route");
  }
  close(s);
  if (net->resolv_len == 0) return 0;
  if (mkdir("/net", 0755) != 0 || mkdir("/net/etc", 0755) != 0) fail("network: mkdir /net/etc");
  int fd = open("/net/etc/resolv.conf", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0 || write_full(fd, resolv, net->resolv_len) != 0) fail("network: write resolv.conf");
  close(fd);
  return 1;
}

struct secret {
  char name[MAX_SECRET_NAME + 1];
  uint32_t len;
  uint8_t *value;
};

struct secrets {
  uint32_t count;
  struct secret items[MAX_SECRETS];
};

/* A u32 LE count or length of the handshake, at most `max`: more powers the guest off, never truncates. */
static uint32_t read_bounded(int port, uint32_t max, const char *what) {
  uint32_t n;
  read_full(port, &n, 4, what);
  if (n > max) {
    errno = E2BIG;
    fail(what);
  }
  return n;
}

/* A u32 LE length, then that many bytes (1 to `max`, no NUL among them) into `out` (max + 1 bytes), NUL-terminated. */
static void read_text(int port, char *out, uint32_t max, const char *what) {
  uint32_t len = read_bounded(port, max, what);
  if (len == 0) {
    errno = EINVAL;
    fail(what);
  }
  read_full(port, out, len, what);
  out[len] = 0;
  if (strlen(out) != len) {
    errno = EINVAL;
    fail(what);
  }
}

/* A secret name as the host checks it (secret-files.ts): a lowercase letter, then a-z 0-9 _ -. */
static int secret_name_ok(const char *name) {
  if (name[0] < 'a' || name[0] > 'z') return 0;
  for (const char *c = name; *c != 0; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-')) return 0;
  return 1;
}

/* The secrets block of the handshake; anything out of bounds powers the guest off, never truncates. */
static void read_secrets(int port, struct secrets *out) {
  out->count = read_bounded(port, MAX_SECRETS, "secrets: the count");
  for (uint32_t i = 0; i < out->count; i++) {
    struct secret *s = &out->items[i];
    read_text(port, s->name, MAX_SECRET_NAME, "secrets: a name");
    if (!secret_name_ok(s->name)) {
      errno = EINVAL;
      fail("secrets: not a secret name");
    }
    for (uint32_t j = 0; j < i; j++)
      if (strcmp(out->items[j].name, s->name) == 0) {
        errno = EEXIST;
        fail("secrets: a name given twice");
      }
    s->len = read_bounded(port, MAX_SECRET_VALUE, "secrets: a value's length");
    s->value = malloc(s->len == 0 ? 1 : s->len);
    if (s->value == NULL) fail("secrets: malloc");
    read_full(port, s->value, s->len, "secrets: read a value");
  }
}

/* The trust bundle: a file of the read-only /net layer, over the image's own. Returns whether one was written. */
static int place_trust_bundle(int port) {
  uint32_t len = read_bounded(port, MAX_TRUST_BUNDLE, "trust bundle: its length");
  if (len == 0) return 0;
  uint8_t *bundle = malloc(len);
  if (bundle == NULL) fail("trust bundle: malloc");
  read_full(port, bundle, len, "trust bundle: read it");
  const char *dirs[] = {"/net", "/net/etc", "/net/etc/ssl", "/net/etc/ssl/certs"};
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
    if (mkdir(dirs[i], 0755) != 0 && errno != EEXIST) fail("trust bundle: mkdir");
  int fd = open("/net/etc/ssl/certs/ca-certificates.crt", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
  if (fd < 0 || write_full(fd, bundle, len) != 0) fail("trust bundle: write");
  close(fd);
  free(bundle);
  return 1;
}

/*
 * Each secret a 0400 file of the sandbox user on a tmpfs of their own, sized to hold exactly them,
 * then read-only. Why a tmpfs and not a layer: nothing else of the root is writable by root's
 * mistake, and the directory (0500, the sandbox user's) lists only what was granted. The values
 * are wiped from this process's memory once written.
 */
static void place_secrets(struct secrets *secrets) {
  if (secrets->count == 0) return;
  size_t bytes = PAGE;
  for (uint32_t i = 0; i < secrets->count; i++) bytes += ((secrets->items[i].len + PAGE - 1) / PAGE + (secrets->items[i].len == 0)) * PAGE;
  char opts[96];
  snprintf(opts, sizeof opts, "size=%zu,mode=0500,uid=%d,gid=%d", bytes, SANDBOX_ID, SANDBOX_ID);
  const unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (mount("secrets", "/newroot/run/secrets", "tmpfs", flags, opts) != 0) fail("secrets: mount the tmpfs");
  for (uint32_t i = 0; i < secrets->count; i++) {
    struct secret *s = &secrets->items[i];
    char path[128];
    snprintf(path, sizeof path, "/newroot/run/secrets/%s", s->name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
    if (fd < 0 || write_full(fd, s->value, s->len) != 0 || fchown(fd, SANDBOX_ID, SANDBOX_ID) != 0 || fchmod(fd, 0400) != 0) fail("secrets: write a file");
    close(fd);
    explicit_bzero(s->value, s->len);
    free(s->value);
    s->value = NULL;
  }
  if (mount(NULL, "/newroot/run/secrets", NULL, MS_REMOUNT | MS_RDONLY | flags, NULL) != 0) fail("secrets: remount read-only");
}

#define MAX_GRANTS 64
#define MAX_GRANT_PATH 1024
#define GRANT_WRITABLE 1u
#define GRANT_FILE 2u

struct grant {
  uint32_t flags;
  char path[MAX_GRANT_PATH + 1];
};

struct grants {
  uint32_t count;
  struct grant items[MAX_GRANTS];
};

static int at_or_under(const char *path, const char *dir) {
  size_t n = strlen(dir);
  return strncmp(path, dir, n) == 0 && (path[n] == 0 || path[n] == '/');
}

/* An absolute, normalised path (no empty, "." or ".." component, no trailing slash), outside what the runtime owns. */
static int grant_path_ok(const char *path) {
  if (path[0] != '/' || path[1] == 0) return 0;
  for (const char *c = path; *c != 0;) {
    const char *next = strchrnul(c + 1, '/');
    size_t len = (size_t)(next - c - 1);
    if (len == 0 || (len == 1 && c[1] == '.') || (len == 2 && c[1] == '.' && c[2] == '.')) return 0;
    c = next;
  }
  static const char *const reserved[] = {"/proc", "/dev", "/sys", "/run"};
  for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
    if (at_or_under(path, reserved[i])) return 0;
  return 1;
}

/* The grants block of the handshake: u32 LE count, then per grant u32 LE flags, u32 LE path length, the path. */
static void read_grants(int port, struct grants *out) {
  out->count = read_bounded(port, MAX_GRANTS, "grants: the count");
  for (uint32_t i = 0; i < out->count; i++) {
    struct grant *g = &out->items[i];
    g->flags = read_bounded(port, GRANT_WRITABLE | GRANT_FILE, "grants: the flags");
    read_text(port, g->path, MAX_GRANT_PATH, "grants: a path");
    if (!grant_path_ok(g->path)) {
      errno = EINVAL;
      fail("grants: not an absolute, normalised path outside /proc, /dev, /sys and /run");
    }
  }
}

/* mkdir -p of every parent of `path` below `root`, then the mount point itself (a directory or an empty file). */
static void make_mount_point(const char *root, const char *path, int file) {
  char full[16 + MAX_GRANT_PATH + 1];
  snprintf(full, sizeof full, "%s%s", root, path);
  for (char *slash = strchr(full + strlen(root) + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
    *slash = 0;
    if (mkdir(full, 0755) != 0 && errno != EEXIST) fail("grants: mkdir a mount point's parent");
    *slash = '/';
  }
  if (file) {
    int fd = open(full, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0444);
    if (fd < 0) fail("grants: create a file mount point");
    close(fd);
  } else if (mkdir(full, 0755) != 0 && errno != EEXIST) {
    fail("grants: mkdir a mount point");
  }
}

/* Mount points outside /tmp go into the read-only layer over the image (before it is mounted). */
static void grant_layer(const struct grants *grants) {
  for (uint32_t i = 0; i < grants->count; i++)
    if (!at_or_under(grants->items[i].path, "/tmp")) make_mount_point("/extra", grants->items[i].path, grants->items[i].flags & GRANT_FILE);
}

/*
 * Each grant is the virtio-fs share `airlock<N>`, served on the host by a file server running as
 * the VMM's uid (read-only there unless writable). A directory is mounted at its path; a file's
 * share is its directory of one, mounted outside the sandbox's root, and the file bound from it.
 * Why nosuid and nodev: nothing on a host share may lift a guest process or reach a device.
 */
static void mount_grants(const struct grants *grants) {
  if (grants->count == 0) return;
  load_modules("/modules.grants");
  if (mkdir("/grants", 0700) != 0) fail("grants: mkdir /grants");
  for (uint32_t i = 0; i < grants->count; i++) {
    const struct grant *g = &grants->items[i];
    const unsigned long flags = MS_NOSUID | MS_NODEV | ((g->flags & GRANT_WRITABLE) ? 0 : MS_RDONLY);
    if (at_or_under(g->path, "/tmp")) make_mount_point("/newroot", g->path, g->flags & GRANT_FILE);
    char tag[32], target[16 + MAX_GRANT_PATH + 1], share[64];
    snprintf(tag, sizeof tag, "airlock%u", i);
    snprintf(target, sizeof target, "/newroot%s", g->path);
    if (!(g->flags & GRANT_FILE)) {
      if (mount(tag, target, "virtiofs", flags, NULL) != 0) fail("grants: mount a virtio-fs share");
      continue;
    }
    snprintf(share, sizeof share, "/grants/%u", i);
    if (mkdir(share, 0700) != 0 || mount(tag, share, "virtiofs", flags, NULL) != 0) fail("grants: mount a file's virtio-fs share");
    snprintf(share, sizeof share, "/grants/%u/f", i);
    if (mount(share, target, NULL, MS_BIND, NULL) != 0) fail("grants: bind a granted file");
    if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | flags, NULL) != 0) fail("grants: remount a granted file");
  }
}

static void make_dev(const char *name, unsigned maj, unsigned min) {
  char path[64];
  snprintf(path, sizeof path, "/newroot/dev/%s", name);
  if (mknod(path, S_IFCHR | 0666, makedev(maj, min)) != 0) fail(path);
  chmod(path, 0666);
}

/* The sandbox's root: image (read-only), agent and mount points (read-only), scratch, /proc, /dev. */
static void mount_root(uint32_t scratch_mb, int net_layer, int secrets) {
  const unsigned long ro = MS_RDONLY | MS_NOSUID | MS_NODEV;
  // The secrets' mount point exists only when there are secrets, as on every tier.
  if (secrets && mkdir("/extra/run/secrets", 0500) != 0) fail("secrets: mkdir the mount point");
  // Why nosuid: a setuid binary of the image must not lift sandbox code back to guest root.
  if (mount("/dev/vda", "/image", "erofs", ro, NULL) != 0) fail("mount the image (erofs on /dev/vda)");
  const char *layers = net_layer ? "lowerdir=/extra:/net:/image" : "lowerdir=/extra:/image";
  if (mount("overlay", "/newroot", "overlay", ro, layers) != 0) fail("mount the root overlay");
  char opts[64];
  snprintf(opts, sizeof opts, "size=%um,mode=1777", scratch_mb);
  if (mount("scratch", "/newroot/tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0) fail("mount scratch");
  if (mount("proc", "/newroot/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) fail("mount /proc");
  if (mount("dev", "/newroot/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=755") != 0) fail("mount /dev");
  // Why: the same devices as every tier (hardening floor), nothing else of the guest's /dev.
  make_dev("null", 1, 3);
  make_dev("zero", 1, 5);
  make_dev("full", 1, 7);
  make_dev("random", 1, 8);
  make_dev("urandom", 1, 9);
  make_dev("tty", 5, 0);
  if (mount(NULL, "/newroot/dev", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) != 0) fail("remount /dev read-only");
}

static void make_cgroup(uint32_t memory_mb, uint32_t pids) {
  if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) fail("mount cgroup2");
  if (write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory +pids") != 0) fail("enable memory and pids controllers");
  if (mkdir("/sys/fs/cgroup/sandbox", 0755) != 0) fail("mkdir the sandbox cgroup");
  char text[32];
  snprintf(text, sizeof text, "%llu", (unsigned long long)memory_mb << 20);
  if (write_file("/sys/fs/cgroup/sandbox/memory.max", text) != 0) fail("memory.max");
  snprintf(text, sizeof text, "%u", pids);
  if (write_file("/sys/fs/cgroup/sandbox/pids.max", text) != 0) fail("pids.max");
}

struct filter {
  struct sock_fprog prog;
  struct sock_filter insns[4096];
};

static void read_filter(struct filter *f) {
  int fd = open("/seccomp.bpf", O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("open /seccomp.bpf");
  ssize_t n = read(fd, f->insns, sizeof f->insns);
  close(fd);
  if (n <= 0 || n % (ssize_t)sizeof(struct sock_filter) != 0) fail("read /seccomp.bpf");
  f->prog.len = (unsigned short)(n / (ssize_t)sizeof(struct sock_filter));
  f->prog.filter = f->insns;
}

static __attribute__((noreturn)) void run_agent(int sock, uint32_t nofile, const struct filter *f, int log_denials) {
  // An ignored SIGCHLD survives exec: the agent must see its commands exit.
  signal(SIGCHLD, SIG_DFL);
  if (write_file("/sys/fs/cgroup/sandbox/cgroup.procs", "0") != 0) fail("join the sandbox cgroup");
  if (dup2(sock, 0) != 0 || dup2(sock, 1) != 1) fail("dup2");
  int null = open("/dev/null", O_WRONLY);
  if (null < 0 || dup2(null, 2) != 2) fail("stderr");
  if (chdir("/newroot") != 0 || chroot(".") != 0 || chdir("/") != 0) fail("chroot");
  struct rlimit rl = {nofile, nofile};
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) fail("RLIMIT_NOFILE");
  // No core dumps, soft and hard, as on every tier: a crash writes no memory image anywhere.
  struct rlimit no_core = {0, 0};
  if (setrlimit(RLIMIT_CORE, &no_core) != 0) fail("RLIMIT_CORE");
  if (setsid() < 0) fail("setsid");
  // Why: an unprivileged uid with every capability set empty, as on every tier: the bounding and
  // ambient sets too, so nothing exec'd later could ever regain a capability.
  for (int cap = 0; prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0; cap++) {
  }
  if (errno != EINVAL) fail("drop the capability bounding set");
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) fail("clear the ambient capabilities");
  if (setgroups(0, NULL) != 0 || setresgid(SANDBOX_ID, SANDBOX_ID, SANDBOX_ID) != 0 || setresuid(SANDBOX_ID, SANDBOX_ID, SANDBOX_ID) != 0) fail("drop to uid 65534");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("no_new_privs");
  // Why: the project's filter inside the guest too; the guest kernel is one more layer, not the only one.
  // Logged where denials are reported: the kernel then audits each refusal (read by start_denials' reader).
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, log_denials ? SECCOMP_FILTER_FLAG_LOG : 0, &f->prog) != 0) fail("seccomp");
  char *argv[] = {"airlock-agent", NULL};
  char *envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", NULL};
  execve("/run/airlock/airlock-agent", argv, envp);
  fail("exec the agent");
}

/* Set once a sandbox process was seen holding as many descriptors as RLIMIT_NOFILE allows. */
static int open_files_hit;

/*
 * Whether a process of the sandbox (up to 64 of them) holds its RLIMIT_NOFILE of descriptors.
 * Sampled, as on the other tiers: the kernel has no event for it.
 */
static int any_process_at_file_limit(uint32_t nofile) {
  FILE *procs = fopen("/sys/fs/cgroup/sandbox/cgroup.procs", "re");
  if (procs == NULL) return 0;
  int hit = 0;
  long pid;
  for (int n = 0; !hit && n < 64 && fscanf(procs, "%ld", &pid) == 1; n++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/fd", pid);
    DIR *d = opendir(path);
    if (d == NULL) continue;
    uint32_t count = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
      if (e->d_name[0] != '.') count++;
    closedir(d);
    hit = count >= nofile;
  }
  fclose(procs);
  return hit;
}

static void send_counters(int port) {
  uint8_t frame[HDR + 40];
  struct statvfs scratch;
  uint64_t v[5] = {
    read_key("/sys/fs/cgroup/sandbox/memory.events", "oom_kill"),
    read_key("/sys/fs/cgroup/sandbox/pids.events", "max"),
    read_key("/sys/fs/cgroup/sandbox/memory.peak", NULL),
    statvfs("/newroot/tmp", &scratch) == 0 && scratch.f_bavail == 0 ? 1 : 0,
    (uint64_t)open_files_hit,
  };
  frame[0] = EV_COUNTERS;
  memset(frame + 1, 0, 4);
  uint32_t len = 40;
  memcpy(frame + 5, &len, 4);
  memcpy(frame + HDR, v, 40);
  if (write_full(port, frame, sizeof frame) != 0) halt();
}

/*
 * Seccomp denial reporting: the same audit reader as the host's (agent/airlock-seccomp-audit.c),
 * run by this process outside the sandbox, reads every denial of the agent's filter (loaded with
 * SECCOMP_FILTER_FLAG_LOG); each becomes a DENIAL frame (type 0xc1, channel 0: u32 LE syscall
 * number, u32 LE pid). Why here: the guest's kernel refuses these calls, so the host's audit never
 * sees them. Only the sandbox's processes carry that filter, so every record is theirs.
 */
struct denials {
  int in, out;
  char buf[8192];
  size_t have;
  unsigned asked, reached;
};

static struct denials denials = {.in = -1, .out = -1};

/* Handles the helper's complete lines; returns -1 once it is gone (reporting then stops). */
static int denials_read(int port) {
  ssize_t n = read(denials.out, denials.buf + denials.have, sizeof denials.buf - denials.have - 1);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
  if (n <= 0) {
    close(denials.out);
    denials.out = -1;
    return -1;
  }
  denials.have += (size_t)n;
  denials.buf[denials.have] = 0;
  char *line = denials.buf;
  for (char *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
    *nl = 0;
    unsigned pid, nr, id;
    if (sscanf(line, "d %*u %u %u", &pid, &nr) == 2) {
      uint8_t frame[HDR + 8] = {EV_DENIAL};
      uint32_t len = 8;
      memcpy(frame + 5, &len, 4);
      memcpy(frame + HDR, &nr, 4);
      memcpy(frame + HDR + 4, &pid, 4);
      if (write_full(port, frame, sizeof frame) != 0) halt();
    } else if (sscanf(line, "sync %u", &id) == 1) {
      denials.reached = id;
    }
  }
  denials.have -= (size_t)(line - denials.buf);
  memmove(denials.buf, line, denials.have);
  // A line longer than the buffer is no line of the helper's: drop it rather than stall.
  if (denials.have == sizeof denials.buf - 1) denials.have = 0;
  return 0;
}

/* Starts the reader; waits for its "ready". Any failure powers the guest off: reporting was asked for. */
static void start_denials(void) {
  int to[2], from[2];
  if (pipe2(to, O_CLOEXEC) != 0 || pipe2(from, O_CLOEXEC) != 0) fail("denials: pipe");
  pid_t pid = fork();
  if (pid < 0) fail("denials: fork");
  if (pid == 0) {
    if (dup2(to[0], 0) != 0 || dup2(from[1], 1) != 1) _exit(127);
    char *argv[] = {"airlock-seccomp-audit", NULL};
    char *envp[] = {NULL};
    execve("/airlock-seccomp-audit", argv, envp);
    _exit(127);
  }
  close(to[0]);
  close(from[1]);
  denials.in = to[1];
  denials.out = from[0];
  char first[256];
  size_t got = 0;
  while (got < sizeof first - 1 && (got == 0 || first[got - 1] != '\n')) {
    ssize_t n = read(denials.out, first + got, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("denials: the audit reader exited before it was ready");
    got += (size_t)n;
  }
  first[got] = 0;
  if (strcmp(first, "ready\n") != 0) {
    errno = EIO;
    say("denials: %s", first);
    fail("denials: the audit reader did not start");
  }
}

/* Waits (up to 2 s) until every denial made so far was read and sent: called before each EXIT. */
static void denials_sync(int port) {
  if (denials.out < 0) return;
  unsigned id = ++denials.asked;
  if (dprintf(denials.in, "sync %u\n", id) < 0) return;
  while (denials.reached != id && denials.out >= 0) {
    struct pollfd pfd = {.fd = denials.out, .events = POLLIN};
    int ready = poll(&pfd, 1, 2000);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0 || denials_read(port) < 0) return;
  }
}

/* Copies agent -> port frame by frame (to put COUNTERS, and the DENIALs read so far, before each EXIT), port -> agent as is. */
static void relay(int port, int sock, uint32_t nofile) {
  static uint8_t in[65536], out[65536 + (1 << 20) + HDR];
  size_t have = 0;
  // Why watched: a limit hit while the sandbox lives on (a fork bomb that sleeps) is reported at
  // once, not only at the command's end; the kernel marks these files modified on every change.
  int limits = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (limits < 0 || inotify_add_watch(limits, "/sys/fs/cgroup/sandbox/pids.events", IN_MODIFY) < 0 ||
      inotify_add_watch(limits, "/sys/fs/cgroup/sandbox/memory.events", IN_MODIFY) < 0) {
    fail("watch the sandbox cgroup's limit events");
  }
  struct pollfd pfds[4] = {{.fd = port, .events = POLLIN}, {.fd = sock, .events = POLLIN}, {.fd = denials.out, .events = POLLIN}, {.fd = limits, .events = POLLIN}};
  for (;;) {
    pfds[2].fd = denials.out;
    // Why a timeout: descriptors held at the limit are sampled every 250 ms (reported once, when first seen).
    int ready = poll(pfds, 4, open_files_hit ? -1 : 250);
    if (ready == 0) {
      if (any_process_at_file_limit(nofile)) {
        open_files_hit = 1;
        send_counters(port);
      }
      continue;
    }
    if (ready < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (pfds[0].revents != 0) {
      ssize_t n = read(port, in, sizeof in);
      if (n <= 0 && !(n < 0 && (errno == EINTR || errno == EAGAIN))) return;
      if (n > 0 && write_full(sock, in, (size_t)n) != 0) return;
    }
    if (pfds[1].revents != 0) {
      ssize_t n = read(sock, out + have, sizeof out - have);
      if (n <= 0 && !(n < 0 && (errno == EINTR || errno == EAGAIN))) return;
      if (n > 0) have += (size_t)n;
      size_t at = 0;
      while (have - at >= HDR) {
        uint32_t len;
        memcpy(&len, out + at + 5, 4);
        if (len > (1u << 20)) return; /* the host sees the channel close: a protocol error */
        if (have - at < HDR + len) break;
        if (out[at] == EV_EXIT) {
          denials_sync(port);
          send_counters(port);
        }
        if (write_full(port, out + at, HDR + len) != 0) return;
        at += HDR + len;
      }
      memmove(out, out + at, have - at);
      have -= at;
    }
    if (pfds[2].fd >= 0 && pfds[2].revents != 0) denials_read(port);
    if (pfds[3].revents != 0) {
      static char events[4096];
      while (read(limits, events, sizeof events) > 0) {
      }
      send_counters(port);
    }
  }
}

int main(void) {
  // Why: pid 1 reaps every orphan of the sandbox, or zombies would count against its pids limit.
  signal(SIGCHLD, SIG_IGN);
  mkdir("/dev", 0755);
  if (mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, NULL) != 0 && errno != EBUSY) fail("mount /dev");
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) fail("mount /proc");
  if (mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) fail("mount /sys");
  load_modules("/modules");
  uint8_t secret[SECRET_BYTES], offered[SECRET_BYTES];
  int port = open_port();
  // The snapshot point (see the top of this file): a restored guest resumes in this read.
  say("%s", "channel open");
  read_full(port, offered, SECRET_BYTES, "read the channel secret");
  read_secret(secret);
  uint8_t diff = 0;
  for (int i = 0; i < SECRET_BYTES; i++) diff |= (uint8_t)(secret[i] ^ offered[i]);
  memset(secret, 0, sizeof secret);
  // Why: only the controller that booted this VM holds the secret; anyone else can't drive it.
  if (diff != 0) {
    write_full(port, "DENY", 4);
    say("%s", "wrong channel secret: refused");
    halt();
  }
  fresh_state(port);
  uint32_t settings[4];
  read_full(port, settings, sizeof settings, "read the settings");
  struct net_settings net;
  read_full(port, &net, sizeof net, "read the network settings");
  static char resolv[MAX_RESOLV];
  if (net.resolv_len > MAX_RESOLV) {
    errno = EMSGSIZE;
    fail("network: resolv.conf too long");
  }
  read_full(port, resolv, net.resolv_len, "read resolv.conf");
  int net_layer = configure_network(&net, resolv);
  net_layer |= place_trust_bundle(port);
  static struct secrets secrets;
  read_secrets(port, &secrets);
  static struct grants grants;
  read_grants(port, &grants);
  uint32_t report_denials;
  read_full(port, &report_denials, 4, "read the reporting flags");
  if (report_denials & 1) start_denials();
  static struct filter filter;
  read_filter(&filter);
  grant_layer(&grants);
  mount_root(settings[0], net_layer, secrets.count > 0);
  mount_grants(&grants);
  place_secrets(&secrets);
  make_cgroup(settings[1], settings[2]);
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) fail("socketpair");
  pid_t agent = fork();
  if (agent < 0) fail("fork");
  if (agent == 0) {
    close(port);
    close(pair[0]);
    run_agent(pair[1], settings[3], &filter, report_denials & 1);
  }
  close(pair[1]);
  if (write_full(port, "AOK1", 4) != 0) halt();
  fcntl(port, F_SETFL, O_NONBLOCK);
  relay(port, pair[0], settings[3]);
  kill(-agent, SIGKILL);
  kill(agent, SIGKILL);
  halt();
}
