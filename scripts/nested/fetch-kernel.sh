#!/bin/sh
# fetch-kernel.sh OUT
# Debian's own kernel for the x86-64 guests of check-vfio and check-kvm
# (one cache for both: OUT is build/kernel-amd64): the package that
# linux-image-amd64 depends on, downloaded and unpacked under OUT/kernel/
# by scripts/arm64/fetch-kernel.sh with ARCH=amd64 (the one kernel fetch
# of the project: private package lists, never installed on this host),
# and an uncompressed vmlinux extracted from its vmlinuz, so QEMU can
# enter it by PVH and skip the decompressor (seconds under TCG).
# Everything is kept in OUT, so a second run downloads and unpacks
# nothing; a lock on OUT keeps two checks started at once from unpacking
# into each other.
# Prints shell assignments on stdout: KIMAGE (the image to boot), KMODDIR
# (lib/modules/<version> of the unpacked package) and KVER.
set -eu
mkdir -p "$1/kernel"
out=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
exec 8> "$out/.lock"
flock -w 600 8 || { echo "${NESTED_TAG:-nested}: $out/.lock stayed taken for 10 minutes" >&2; exit 1; }
env=$(ARCH=amd64 "$here/../arm64/fetch-kernel.sh" "$out")
eval "$env"
image=$("$here/extract-vmlinux.sh" "$KIMAGE" "$out/kernel/vmlinux-$KVER")
echo "KIMAGE='$image'"
echo "KMODDIR='$KMODDIR'"
echo "KVER='$KVER'"
