#!/bin/sh
# initramfs-tools hook: the guest's root is an ext4 file system on a virtio disk, and the stock
# kernel builds both as modules, so the initramfs loads them (MODULES=list keeps everything else out).
PREREQ=""
prereqs() { echo "$PREREQ"; }
case "$1" in prereqs)
  prereqs
  exit 0
  ;;
esac
. /usr/share/initramfs-tools/hook-functions
for module in virtio_pci virtio_blk ext4; do force_load "$module"; done
