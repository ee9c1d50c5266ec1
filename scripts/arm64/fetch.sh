#!/bin/sh
# fetch.sh CACHE [PKG...]
# Everything an arm64 busybox guest needs, from Debian's arm64 packages,
# downloaded and unpacked under CACHE (reused by the next run; nothing is
# installed, dpkg gains no architecture): the kernel (fetch-kernel.sh),
# busybox-static, liburcu's static libraries and headers (liburcu-dev,
# liburcu8) for cross-building the library, and any PKG named, into the
# sysroot CACHE/sysroot.  Prints shell assignments on stdout: KIMAGE,
# KMODDIR, KVER (see fetch-kernel.sh), SYSROOT and BUSYBOX.
#   eval "$(scripts/arm64/fetch.sh build/arm64)"
set -eu
[ $# -ge 1 ] || { echo "usage: fetch.sh CACHE [PKG...]" >&2; exit 2; }
cache=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
"$here/fetch-kernel.sh" "$cache"
sysroot=$("$here/fetch-debs.sh" "$cache" "$cache/sysroot" \
	busybox-static liburcu-dev liburcu8 "$@")
echo "SYSROOT='$sysroot'"
echo "BUSYBOX='$sysroot/bin/busybox'"
