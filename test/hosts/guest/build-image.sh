#!/usr/bin/env bash
# Builds the test guest: a Debian root file system with the packages scripts/setup.sh installs plus
# the guest's own (packages.txt), a pinned Debian kernel and its initramfs, Node.js and the guest's
# init. Writes three files into OUT (which must not exist yet): vmlinuz, initrd.img, rootfs.ext4.
#
#   build-image.sh OUT SUITE SOURCES KERNEL_VERSION NODE_BINARY
#
# SOURCES is an apt sources file (deb822 when it ends in .sources) given to mmdebstrap as its mirror.
# Needs root (mmdebstrap --mode=root) and e2fsprogs 1.43+ (mke2fs -d).
set -euo pipefail

if [ "$#" -ne 5 ]; then
  echo "usage: $0 OUT SUITE SOURCES KERNEL_VERSION NODE_BINARY" >&2
  exit 2
fi
out=$1 suite=$2 sources=$3 kernel_version=$4 node_binary=$5
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)

# One comma-separated list from the package files, comments and blanks dropped.
list() { sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$1" | paste -sd, -; }
include="$(list "$repo/scripts/system-packages.txt"),$(list "$here/packages.txt"),linux-image-amd64=$kernel_version"

mkdir "$out"
root="$out/root"
trap 'rm -rf "$root"' EXIT

# The initramfs configuration goes in before the kernel is installed, so its one initramfs build
# (a postinst trigger) already has the virtio modules and nothing more.
mmdebstrap --mode=root --variant=apt --include="$include" \
  --essential-hook='mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/etc/initramfs-tools/hooks"' \
  --essential-hook='echo MODULES=list > "$1/etc/initramfs-tools/conf.d/airlock-guest"' \
  --essential-hook="install -m 755 '$here/initramfs-hook.sh' \"\$1/etc/initramfs-tools/hooks/airlock-guest\"" \
  --customize-hook="install -m 755 '$node_binary' \"\$1/usr/local/bin/node\"" \
  --customize-hook="install -m 755 '$here/init.sh' \"\$1/sbin/airlock-guest-init\"" \
  --customize-hook='mkdir -p "$1/airlock" "$1/job"' \
  --customize-hook='echo airlock-guest > "$1/etc/hostname"' \
  "$suite" "$root" "$sources"

cp "$root"/boot/vmlinuz-* "$out/vmlinuz"
cp "$root"/boot/initrd.img-* "$out/initrd.img"
# Room for the test runs' writes (the disk is opened copy-on-write, so the cached file never changes).
size_mib=$(($(du -sm "$root" | cut -f1) + 1024))
mke2fs -q -t ext4 -L airlock-guest -d "$root" "$out/rootfs.ext4" "${size_mib}M"
