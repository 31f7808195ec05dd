/*
 * airlock-tap-open: attaches to the tap device IFNAME of the current network namespace (as root,
 * before the VMM is dropped to its uid), puts the descriptor at FD and execs the rest.
 *
 *   airlock-tap-open IFNAME FD PROGRAM [ARG...]
 *
 * Why: QEMU gets `-netdev tap,fd=FD` of a descriptor it could never open itself (no /dev/net/tun
 * in its root, no CAP_NET_ADMIN); the tap is root's, so nothing else of its uid can attach.
 *
 * Build: gcc -static-pie (src/isolation/microvm/tap.ts).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 4) {
    dprintf(2, "usage: airlock-tap-open IFNAME FD PROGRAM [ARG...]\n");
    return 2;
  }
  char *end;
  long target = strtol(argv[2], &end, 10);
  if (*end != 0 || target < 3 || target > 1023 || strlen(argv[1]) >= IFNAMSIZ) {
    dprintf(2, "airlock-tap-open: network.tap: bad arguments\n");
    return 2;
  }
  // Why: TUNSETIFF would create a missing tap, unbridged; only the one prepared in the slot is used.
  if (if_nametoindex(argv[1]) == 0) {
    dprintf(2, "airlock-tap-open: network.tap: no tap named %s in this namespace\n", argv[1]);
    return 1;
  }
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    dprintf(2, "airlock-tap-open: network.tap: open /dev/net/tun: %s\n", strerror(errno));
    return 1;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", argv[1]);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    dprintf(2, "airlock-tap-open: network.tap: attach to %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  // dup2 clears close-on-exec on the copy: only FD reaches the program.
  if (dup2(fd, (int)target) != (int)target) {
    dprintf(2, "airlock-tap-open: network.tap: dup2: %s\n", strerror(errno));
    return 1;
  }
  close(fd);
  execv(argv[3], argv + 3);
  dprintf(2, "airlock-tap-open: exec %s: %s\n", argv[3], strerror(errno));
  return 127;
}
