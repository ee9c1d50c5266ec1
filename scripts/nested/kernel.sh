#!/bin/sh
# kernel.sh CACHE OUT
# Which kernel a nested guest boots: KERNEL (a vmlinux with the PVH note, or
# a bzImage whose vmlinux is extracted into OUT/custom when possible) with
# MODULES (its lib/modules/<version>, unneeded if it builds in what the
# guest loads), or else Debian's kernel package, fetched and unpacked into
# CACHE by fetch-kernel.sh.  Prints shell assignments on stdout: KIMAGE,
# KMODDIR and KDESC (a few words for the log).
set -eu
cache=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
KERNEL=${KERNEL:-} MODULES=${MODULES:-}

say() { echo "${NESTED_TAG:-nested}: $*" >&2; }
die() { say "$*"; exit 1; }

if [ -n "$KERNEL" ]; then
	[ -f "$KERNEL" ] || die "KERNEL=$KERNEL is not a file"
	[ -z "$MODULES" ] || [ -d "$MODULES" ] || die "MODULES=$MODULES is not a directory"
	mkdir -p "$out/custom"
	image=$("$here/extract-vmlinux.sh" "$KERNEL" "$out/custom/vmlinux") ||
		die "cannot boot KERNEL=$KERNEL"
	echo "KIMAGE='$image'"
	echo "KMODDIR='$MODULES'"
	echo "KDESC='$KERNEL (booting $image), modules ${MODULES:-none}'"
	exit 0
fi
[ -z "$MODULES" ] || die "MODULES= needs KERNEL= (Debian's kernel brings its own)"
env=$("$here/fetch-kernel.sh" "$cache") || die "cannot get Debian's kernel"
eval "$env"
echo "KIMAGE='$KIMAGE'"
echo "KMODDIR='$KMODDIR'"
echo "KDESC='Debian $KVER (booting $KIMAGE)'"
