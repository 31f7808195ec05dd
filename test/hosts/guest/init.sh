#!/bin/bash
# PID 1 of the test guest (no systemd: under TCG a service manager costs more than the tests).
# Mounts what a cgroup v2 + AppArmor host has, the job folder (9p tag "job"), the project checkout
# (9p tag "airlock", read-only, with a tmpfs overlay so runs can write) and any more shares, runs
# /job/command from the checkout, writes its exit status to /job/exit and powers off.
# The serial console carries the command's output between marker lines the harness looks for.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
# The console is a tty, but what it carries is read back as text: no colour codes.
export NO_COLOR=1 TERM=dumb

fail() {
  echo "airlock-guest-init: $*"
  echo "@@AIRLOCK-GUEST-EXIT 125@@"
  poweroff_now
}
poweroff_now() {
  sync
  echo o >/proc/sysrq-trigger
  sleep 60
}

mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mountpoint -q /run || mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
# Why: the point of the guest is a host with only the unified hierarchy (the kernel command line
# also turns every v1 controller off); mounted as systemd does, with nsdelegate.
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || fail "cannot mount cgroup2"
mount -t securityfs securityfs /sys/kernel/security || fail "cannot mount securityfs"
mount -o remount,rw / || fail "cannot remount / read-write"
hostname airlock-guest
ip link set lo up

# A host folder shared read-only (9p TAG) at PATH, made writable in the guest by a tmpfs overlay:
# the guest's writes never reach the host.
share() {
  local tag=$1 path=$2
  mkdir -p "/run/shares/$tag" "/run/overlay/$tag/upper" "/run/overlay/$tag/work" "$path"
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro,cache=loose "$tag" "/run/shares/$tag" ||
    fail "cannot mount the 9p share $tag at $path"
  if ! mount -t overlay -o "lowerdir=/run/shares/$tag,upperdir=/run/overlay/$tag/upper,workdir=/run/overlay/$tag/work" overlay "$path"; then
    echo "airlock-guest-init: no overlay on $path; it stays read-only"
    mount --bind "/run/shares/$tag" "$path"
  fi
}

modprobe -a 9pnet_virtio 9p overlay || fail "cannot load the 9p and overlay modules"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 job /job || fail "cannot mount the job folder (9p tag job)"
share airlock /airlock
# /job/shares: more host folders, one "TAG PATH" a line.
if [ -f /job/shares ]; then
  while read -r tag path; do share "$tag" "$path"; done </job/shares
fi
# /job/disks: ext4 disks made on the host (QEMU throws their writes away), one "DEVICE PATH" a line.
if [ -f /job/disks ]; then
  while read -r device path; do
    mkdir -p "$path"
    mount -t ext4 "/dev/$device" "$path" || fail "cannot mount the disk $device at $path"
  done </job/disks
fi

# Why: AppArmor confines only what has a profile; loading the distribution's profiles is what a
# booted Debian host does (apparmor.service), so the guest does it too when asked.
if grep -qw airlock.load_profiles=1 /proc/cmdline; then
  apparmor_parser -r -W /etc/apparmor.d/ >/dev/null 2>&1 || echo "airlock-guest-init: some AppArmor profiles failed to load"
fi

read -r uptime _ </proc/uptime
echo "@@AIRLOCK-GUEST-READY ${uptime}@@"
cd /airlock
bash /job/command </dev/null
status=$?
echo "$status" >/job/exit
echo "@@AIRLOCK-GUEST-EXIT ${status}@@"
poweroff_now
