#!/bin/sh
# fetch-kernel.sh OUT
# Debian's own kernel for the check-vfio guest: the package that
# linux-image-amd64 depends on, downloaded and unpacked under OUT/kernel/
# (scripts/arm64/fetch-kernel.sh with ARCH=amd64: private package lists,
# never installed on this host), and an uncompressed vmlinux extracted
# from its vmlinuz, so QEMU can enter it by PVH and skip the decompressor
# (seconds under TCG).  Everything is kept in OUT, so a second run
# downloads and unpacks nothing.
# Prints shell assignments on stdout: KIMAGE (the image to boot), KMODDIR
# (lib/modules/<version> of the unpacked package) and KVER.
set -eu
mkdir -p "$1/kernel"
out=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
env=$(ARCH=amd64 "$here/../arm64/fetch-kernel.sh" "$out")
eval "$env"
image=$("$here/extract-vmlinux.sh" "$KIMAGE" "$out/kernel/vmlinux-$KVER")
echo "KIMAGE='$image'"
echo "KMODDIR='$KMODDIR'"
echo "KVER='$KVER'"
