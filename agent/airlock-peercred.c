/*
 * airlock-peercred: prints the credentials of the peer of a unix-domain stream socket.
 *
 * The control plane (src/host/peer-credentials.ts) passes each connection of its unix-socket
 * listener as fd 3; this prints "UID GID PID\n" from getsockopt(SO_PEERCRED), which the kernel
 * recorded when the peer called connect() and the peer cannot forge. Anything else (fd 3 not a
 * unix-domain socket, a short answer, a failed write) exits non-zero with the reason on stderr,
 * and the caller refuses the connection.
 *
 * Build: gcc -static-pie -O2 -Wall -Wextra -Werror (no dependency beyond libc; src/host/c-build.ts).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int main(void) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  int domain = -1;
  socklen_t domain_len = sizeof domain;
  memset(&cred, 0, sizeof cred);
  /* Other sockets answer SO_PEERCRED too, with the overflow uid (nobody): only unix sockets are read. */
  if (getsockopt(3, SOL_SOCKET, SO_DOMAIN, &domain, &domain_len) != 0) {
    fprintf(stderr, "airlock-peercred: getsockopt(3, SO_DOMAIN): %s\n", strerror(errno));
    return 1;
  }
  if (domain != AF_UNIX) {
    fprintf(stderr, "airlock-peercred: fd 3 is not a unix-domain socket (domain %d): it has no SO_PEERCRED\n", domain);
    return 1;
  }
  if (getsockopt(3, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    fprintf(stderr, "airlock-peercred: getsockopt(3, SO_PEERCRED): %s\n", strerror(errno));
    return 1;
  }
  if (len != sizeof cred) {
    fprintf(stderr, "airlock-peercred: SO_PEERCRED answered %u bytes, not %zu\n", (unsigned)len, sizeof cred);
    return 1;
  }
  if (printf("%u %u %d\n", (unsigned)cred.uid, (unsigned)cred.gid, (int)cred.pid) < 0 || fflush(stdout) != 0) {
    fprintf(stderr, "airlock-peercred: cannot write the answer: %s\n", strerror(errno));
    return 1;
  }
  return 0;
}
