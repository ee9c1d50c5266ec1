#!/bin/sh
# fetch-kernel.sh CACHE
# Debian's kernel for ARCH (default arm64), unpacked, never installed: the
# versioned package linux-image-$ARCH depends on (resolved in apt.sh's
# private lists) is downloaded and unpacked under CACHE/kernel/<package>/.
# For arm64, boot/vmlinuz is the Image QEMU's -kernel boots, or a gzip of
# it (older packages), decompressed to CACHE/kernel/Image-<version>.
# Kept for the next run; an older kernel's files are removed.  Prints
# shell assignments on stdout:
#   KIMAGE   the image to boot (arm64: the Image; else boot/vmlinuz)
#   KMODDIR  its lib/modules/<version>
#   KVER     <version>
#   eval "$(scripts/arm64/fetch-kernel.sh build/arm64)"
#   eval "$(ARCH=amd64 scripts/arm64/fetch-kernel.sh build/vfio)"
set -eu
[ $# = 1 ] || { echo "usage: fetch-kernel.sh CACHE" >&2; exit 2; }
cache=$1
arch=${ARCH:-arm64}
here=$(cd "$(dirname "$0")" && pwd)
say() { echo "fetch-kernel: $*" >&2; }
die() { say "$*"; exit 1; }
mkdir -p "$cache/kernel"
cache=$(cd "$cache" && pwd)

pkg=$("$here/apt.sh" "$cache" apt-cache depends "linux-image-$arch" 2>/dev/null |
      sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
[ -n "$pkg" ] || die "linux-image-$arch depends on no versioned kernel in the $arch lists"
root=$cache/kernel/$pkg
"$here/fetch-debs.sh" "$cache" "$root" "$pkg" >/dev/null
vmlinuz=$(ls "$root"/boot/vmlinuz-* 2>/dev/null | head -n 1 || true)
[ -n "$vmlinuz" ] || die "$pkg has no boot/vmlinuz-*"
kver=${vmlinuz##*/vmlinuz-}
moddir=$root/lib/modules/$kver
[ -d "$moddir" ] || die "$pkg has no lib/modules/$kver"
# A kernel nobody boots again is half a gigabyte; whatever a caller
# derived from it is named after its version.
for old in "$cache"/kernel/*; do
	case $old in
	"$root"|*"$kver"*) ;;
	*) say "removing the older $(basename "$old")"; rm -rf "$old" ;;
	esac
done

# The arm64 Image header carries "ARM\x64" at byte 56.
is_image() { [ "$(tail -c +57 "$1" | head -c 4 | od -An -c | tr -d ' ')" = 'ARMd' ]; }
image=$vmlinuz
if [ "$arch" = arm64 ] && ! is_image "$vmlinuz"; then
	# Without a self-decompressor, an arm64 kernel package may gzip it.
	image=$cache/kernel/Image-$kver
	if [ ! -s "$image" ]; then
		gzip -dc "$vmlinuz" > "$image.tmp" 2>/dev/null && is_image "$image.tmp" ||
			{ rm -f "$image.tmp"; die "$vmlinuz is neither an arm64 Image nor a gzip of one"; }
		mv "$image.tmp" "$image"
	fi
fi
echo "KIMAGE='$image'"
echo "KMODDIR='$moddir'"
echo "KVER='$kver'"
