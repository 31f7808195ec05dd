/* T2-T7 and T9: the attack syscalls of `probe checks`, each with harmless arguments. */
#include "probe.h"

/* ---------- T2/T3/T4/T7 attack bodies (harmless arguments) ---------- */

static long a_unshare(const void *arg) { (void)arg; return unshare(CLONE_NEWUSER); }
static long a_unshare_urm(const void *arg) { (void)arg; return unshare(CLONE_NEWUSER | CLONE_NEWNS); }
static long a_clone_newuser(const void *arg) {
  (void)arg;
  long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  if (r == 0) _exit(0);
  if (r > 0) waitpid((pid_t)r, NULL, 0);
  return r;
}
static long a_clone3(const void *arg) {
  (void)arg;
  struct clone_args ca;
  memset(&ca, 0, sizeof ca);
  ca.exit_signal = SIGCHLD;
  long r = syscall(SYS_clone3, &ca, sizeof ca);
  if (r == 0) _exit(0);
  if (r > 0) waitpid((pid_t)r, NULL, 0);
  return r;
}
static long a_setns(const void *arg) {
  (void)arg;
  /* Our own UTS namespace: joining it changes nothing even if allowed. */
  int fd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
  return syscall(SYS_setns, fd, 0);
}
static long a_mount(const void *arg) {
  (void)arg;
  return mount("none", "/nonexistent-airlock-probe", "tmpfs", 0, "size=4k");
}
static long a_umount2(const void *arg) { (void)arg; return umount2("/nonexistent-airlock-probe", 0); }
static long a_pivot_root(const void *arg) { (void)arg; return syscall(SYS_pivot_root, "/nonexistent-airlock-probe", "/nonexistent-airlock-probe"); }
static long a_open_tree(const void *arg) { (void)arg; return syscall(SYS_open_tree, AT_FDCWD, "/tmp", 0); }
static long a_move_mount(const void *arg) { (void)arg; return syscall(SYS_move_mount, -1, "", -1, "", 0); }
static long a_fsopen(const void *arg) { (void)arg; return syscall(SYS_fsopen, "tmpfs", 0); }
static long a_fsmount(const void *arg) { (void)arg; return syscall(SYS_fsmount, -1, 0, 0); }
static long a_fspick(const void *arg) { (void)arg; return syscall(SYS_fspick, AT_FDCWD, "/tmp", 0); }
static long a_mount_setattr(const void *arg) { (void)arg; return syscall(SYS_mount_setattr, -1, "", 0, NULL, 0); }
/* KEYCTL_GET_KEYRING_ID(KEY_SPEC_SESSION_KEYRING, create=0): read-only. */
static long a_keyctl(const void *arg) { (void)arg; return syscall(SYS_keyctl, 0, -3, 0, 0, 0); }
/* An unknown key type: fails before any key or upcall could exist. */
static long a_add_key(const void *arg) { (void)arg; return syscall(SYS_add_key, "airlock-invalid", "probe", "x", 1, -2); }
static long a_request_key(const void *arg) { (void)arg; return syscall(SYS_request_key, "airlock-invalid", "probe", NULL, 0); }
static long a_bpf(const void *arg) { (void)arg; return syscall(SYS_bpf, 0x7fff, NULL, 0); }
static long a_perf_event_open(const void *arg) { (void)arg; return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0); }
static long a_userfaultfd(const void *arg) { (void)arg; return syscall(SYS_userfaultfd, O_CLOEXEC); }
/* A bogus architecture in flags: even a privileged caller gets EINVAL, nothing is loaded/unloaded. */
static long a_kexec_load(const void *arg) { (void)arg; return syscall(SYS_kexec_load, 0, 0, NULL, 0x00ff0000UL); }
static long a_init_module(const void *arg) { (void)arg; return syscall(SYS_init_module, NULL, 0, ""); }
static long a_finit_module(const void *arg) { (void)arg; return syscall(SYS_finit_module, -1, "", 0); }
static long a_ptrace(const void *arg) { (void)arg; return ptrace(PTRACE_TRACEME, 0, NULL, NULL); }
/* Zero iovecs at our own pid: a no-op even if allowed. */
static long a_process_vm_writev(const void *arg) { (void)arg; return syscall(SYS_process_vm_writev, getpid(), NULL, 0, NULL, 0, 0); }
static long a_io_uring_setup(const void *arg) {
  (void)arg;
  unsigned char params[120];
  memset(params, 0, sizeof params);
  return syscall(SYS_io_uring_setup, 1, params);
}
static long a_socket_vsock(const void *arg) { (void)arg; return syscall(SYS_socket, AF_VSOCK, SOCK_STREAM, 0); }
static long a_socket_vsock_hi(const void *arg) {
  (void)arg;
  return syscall(SYS_socket, (unsigned long)AF_VSOCK | (1UL << 32), SOCK_STREAM, 0);
}
/* NULL argument: even if the call reached a tty it could not push a byte. */
static long a_tiocsti(const void *arg) { (void)arg; return syscall(SYS_ioctl, 0, (unsigned long)TIOCSTI, NULL); }
static long a_tiocsti_hi(const void *arg) {
  (void)arg;
  return syscall(SYS_ioctl, 0, (unsigned long)TIOCSTI | (1UL << 32), NULL);
}
static long a_personality(const void *arg) { return syscall(SYS_personality, *(const unsigned long *)arg); }

#if defined(__x86_64__)
/* i386 ABI from a 64-bit process: getpid is 20 there. */
static long a_int80(const void *arg) {
  (void)arg;
  long ret = 20;
  /* Every other register fixed: if the call were misread as a 64-bit one (20 = writev), it gets fd -1. */
  __asm__ volatile("int $0x80" : "+a"(ret) : "b"(0), "c"(0), "d"(0), "D"(-1L), "S"(0) : "memory");
  if (ret < 0 && ret > -4096) {
    errno = (int)-ret;
    return -1;
  }
  return ret;
}
/*
 * i386 number 39 is mkdir (with a NULL path: EFAULT, nothing created), but 39 is getpid in the
 * 64-bit table: a positive return means the call ran through the wrong (native) table.
 */
static long a_int80_confusion(const void *arg) {
  (void)arg;
  long ret = 39;
  __asm__ volatile("int $0x80" : "+a"(ret) : "b"(0), "c"(0), "D"(0), "S"(0) : "memory");
  if (ret < 0 && ret > -4096) {
    errno = (int)-ret;
    return -1;
  }
  return ret;
}
/* x32 ABI: getpid (39) with __X32_SYSCALL_BIT. */
static long a_x32(const void *arg) {
  (void)arg;
  return syscall(0x40000000L | 39);
}
#endif

static long a_mount_cgroup(const void *arg) { return mount("cgroup", (const char *)arg, "cgroup", 0, "memory"); }
static long a_mount_cgroup2(const void *arg) { return mount("cgroup2", (const char *)arg, "cgroup2", 0, NULL); }

/* Opens for writing and closes without writing a byte. */
long a_open_wronly(const void *arg) {
  int fd = open((const char *)arg, O_WRONLY | O_CLOEXEC | O_NOCTTY);
  if (fd >= 0) close(fd);
  return fd;
}

void check_syscalls(void) {
  attack("unshare", a_unshare, NULL);
  attack("clone_newuser", a_clone_newuser, NULL);
  attack("clone3", a_clone3, NULL);
  attack("setns", a_setns, NULL);
  attack("mount", a_mount, NULL);
  attack("umount2", a_umount2, NULL);
  attack("pivot_root", a_pivot_root, NULL);
  attack("open_tree", a_open_tree, NULL);
  attack("move_mount", a_move_mount, NULL);
  attack("fsopen", a_fsopen, NULL);
  attack("fsmount", a_fsmount, NULL);
  attack("fspick", a_fspick, NULL);
  attack("mount_setattr", a_mount_setattr, NULL);
  attack("keyctl", a_keyctl, NULL);
  attack("add_key", a_add_key, NULL);
  attack("request_key", a_request_key, NULL);
  attack("bpf", a_bpf, NULL);
  attack("perf_event_open", a_perf_event_open, NULL);
  attack("userfaultfd", a_userfaultfd, NULL);
  attack("kexec_load", a_kexec_load, NULL);
  attack("init_module", a_init_module, NULL);
  attack("finit_module", a_finit_module, NULL);
  attack("ptrace", a_ptrace, NULL);
  attack("process_vm_writev", a_process_vm_writev, NULL);
  attack("io_uring_setup", a_io_uring_setup, NULL);
  attack("socket_vsock", a_socket_vsock, NULL);
  static const unsigned long no_aslr = ADDR_NO_RANDOMIZE, rie = READ_IMPLIES_EXEC;
  attack("personality_addr_no_randomize", a_personality, &no_aslr);
  attack("personality_read_implies_exec", a_personality, &rie);
  /* T3: the same denials with bit 32 set in the argument the filter inspects. */
  attack("socket_vsock_highbit", a_socket_vsock_hi, NULL);
  attack("tiocsti_highbit", a_tiocsti_hi, NULL);
  /* T5 */
#if defined(__x86_64__)
  attack("i386_int80", a_int80, NULL);
  attack("i386_int80_confusion", a_int80_confusion, NULL);
  attack("x32_syscall", a_x32, NULL);
#else
  begin("i386_int80");
  field_s("skip", "not x86_64");
  end_line();
  begin("i386_int80_confusion");
  field_s("skip", "not x86_64");
  end_line();
  begin("x32_syscall");
  field_s("skip", "not x86_64");
  end_line();
#endif
}

/* T6 and T7. */
void check_tty_and_userns(void) {
  begin("stdin_tty");
  field_l("isatty", isatty(0));
  end_line();
  attack("tiocsti", a_tiocsti, NULL);
  int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  report_call("open_dev_tty", NULL, NULL, fd, errno);
  if (fd >= 0) close(fd);
  attack("unshare_urm_syscall", a_unshare_urm, NULL);
  char out[512];
  char *const argv[] = {"/usr/bin/unshare", "-Urm", "/bin/true", NULL};
  int st = run_capture(argv, out, sizeof out);
  begin("unshare_urm_cmd");
  field_l("exited", WIFEXITED(st));
  field_l("status", WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
  end_line();
}

/* T9 */
void check_cgroup(void) {
  const char *dir = "/tmp/.airlock-probe-cg";
  mkdir(dir, 0700);
  attack("mount_cgroup_v1", a_mount_cgroup, dir);
  attack("mount_cgroup_v2", a_mount_cgroup2, dir);
  rmdir(dir);
  struct stat st;
  int r = stat("/sys/fs/cgroup", &st);
  report_call("sys_fs_cgroup_stat", NULL, NULL, r, errno);
  if (r == 0) {
    attack("open_wr_release_agent", a_open_wronly, "/sys/fs/cgroup/release_agent");
    attack("open_wr_cgroup_procs", a_open_wronly, "/sys/fs/cgroup/cgroup.procs");
  }
}
