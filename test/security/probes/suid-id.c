/*
 * Inert helper for T19: installed setuid-root in the probe directory, it only prints the ids it
 * runs with. Inside a sandbox the setuid bit must not take effect (no_new_privs, nosuid, and an
 * unmapped owner); it does nothing else, so it is harmless wherever it runs.
 */
#include <stdio.h>
#include <unistd.h>

int main(void) {
  printf("{\"uid\":%d,\"euid\":%d,\"gid\":%d,\"egid\":%d}\n", (int)getuid(), (int)geteuid(), (int)getgid(), (int)getegid());
  return 0;
}
