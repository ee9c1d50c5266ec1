#!/bin/sh
# fetch-kernel.sh OUT
# Debian's own kernel for the guests of check-vfio and check-kvm (one cache
# for both: OUT is build/kernel-amd64): download the package that
# linux-image-amd64 depends on with `apt-get download`, unpack it with
# dpkg-deb -x under OUT/kernel/ (it is never installed on this host) and
# extract an uncompressed vmlinux from its vmlinuz, so QEMU can enter it by
# PVH and skip the decompressor (seconds under TCG).  Everything is kept in
# OUT, so a second run downloads and unpacks nothing; a lock on OUT keeps
# two checks started at once from unpacking into each other.
# Prints shell assignments on stdout: KIMAGE (the image to boot), KMODDIR
# (lib/modules/<version> of the unpacked package) and KVER.
set -eu
out=$1
here=$(dirname "$0")
mkdir -p "$out/debs" "$out/kernel"
out=$(cd "$out" && pwd)
exec 8> "$out/.lock"
flock -w 600 8 || { echo "${NESTED_TAG:-nested}: $out/.lock stayed taken for 10 minutes" >&2; exit 1; }

say() { echo "${NESTED_TAG:-nested}: $*" >&2; }
die() { say "$*"; exit 1; }

# The versioned package the metapackage points at.  apt-cache is local;
# with no lists yet (a fresh machine) update them once, then fall back to
# whatever an earlier run left unpacked.
resolve() {
	apt-cache depends linux-image-amd64 2>/dev/null |
	sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1
}
pkg=$(resolve || true)
if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then
	say "apt-cache knows no linux-image-amd64; running apt-get update"
	apt-get update >&2 || true
	pkg=$(resolve || true)
fi
if [ -z "$pkg" ]; then
	pkg=$(ls "$out/kernel" 2>/dev/null | sed -n 's/^\(linux-image-.*\)\.unpacked$/\1/p' | tail -n 1)
	[ -n "$pkg" ] || die "cannot resolve linux-image-amd64 (apt-cache depends linux-image-amd64 gives nothing; try apt-get update)"
	say "apt-cache cannot resolve linux-image-amd64; using the cached $pkg"
fi

root=$out/kernel/$pkg
if [ ! -e "$out/kernel/$pkg.unpacked" ]; then
	deb=$(ls "$out/debs/${pkg}_"*.deb 2>/dev/null | tail -n 1 || true)
	if [ -z "$deb" ]; then
		say "downloading $pkg (apt-get download)"
		# apt's sandbox user could not write into our tree: download as
		# ourselves.  Stale lists name a file the mirror no longer has:
		# update them once and resolve again.
		fetch() {
			(cd "$out/debs" && apt-get download -q \
			    -o APT::Sandbox::User="$(id -un)" "$pkg" >&2)
		}
		if ! fetch; then
			[ "$(id -u)" = 0 ] || die "apt-get download $pkg failed (as root it would run apt-get update)"
			say "apt-get download failed; running apt-get update and trying again"
			apt-get update >&2 || true
			pkg=$(resolve || true)
			[ -n "$pkg" ] || die "linux-image-amd64 does not resolve after apt-get update"
			root=$out/kernel/$pkg
			fetch || die "apt-get download $pkg failed"
		fi
		deb=$(ls "$out/debs/${pkg}_"*.deb 2>/dev/null | tail -n 1 || true)
		[ -n "$deb" ] || die "apt-get download left no ${pkg}_*.deb in $out/debs"
	fi
	say "unpacking $(basename "$deb") (dpkg-deb -x, not installed)"
	rm -rf "$root"
	mkdir -p "$root"
	dpkg-deb -x "$deb" "$root" || die "dpkg-deb -x $deb failed"
	: > "$out/kernel/$pkg.unpacked"
	# An older kernel's pieces are half a gigabyte nobody boots again.
	for old in "$out"/kernel/linux-image-* "$out"/kernel/vmlinux-* \
	           "$out"/debs/linux-image-*; do
		case $old in
		"$root"|"$root.unpacked"|"$deb") ;;
		*\*) ;;   # a pattern that matched nothing
		*) say "removing the older $(basename "$old")"; rm -rf "$old" ;;
		esac
	done
fi

vmlinuz=$(ls "$root"/boot/vmlinuz-* 2>/dev/null | head -n 1 || true)
[ -n "$vmlinuz" ] || die "$pkg has no boot/vmlinuz-*"
kver=${vmlinuz##*/vmlinuz-}
moddir=$root/lib/modules/$kver
[ -d "$moddir" ] || die "$pkg has no lib/modules/$kver"
image=$("$here/extract-vmlinux.sh" "$vmlinuz" "$out/kernel/vmlinux-$kver")

echo "KIMAGE='$image'"
echo "KMODDIR='$moddir'"
echo "KVER='$kver'"
