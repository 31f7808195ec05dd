#!/bin/bash
# PID 1 of the test guest (no systemd: under TCG a service manager costs more than the tests).
# Mounts what a cgroup v2 + AppArmor host has, mounts the project checkout (9p tag "airlock",
# read-only, with a tmpfs overlay so runs can write) and the job folder (9p tag "job"), runs
# /job/command from the checkout, writes its exit status to /job/exit and powers off.
# The serial console carries the command's output between marker lines the harness looks for.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8

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

mkdir -p /run/airlock-checkout /run/overlay/upper /run/overlay/work
modprobe -a 9pnet_virtio 9p overlay || fail "cannot load the 9p and overlay modules"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro,cache=loose airlock /run/airlock-checkout ||
  fail "cannot mount the checkout (9p tag airlock)"
if ! mount -t overlay -o lowerdir=/run/airlock-checkout,upperdir=/run/overlay/upper,workdir=/run/overlay/work overlay /airlock; then
  echo "airlock-guest-init: no overlay on the checkout; it stays read-only"
  mount --bind /run/airlock-checkout /airlock
fi
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 job /job || fail "cannot mount the job folder (9p tag job)"

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
