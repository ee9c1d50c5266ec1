#!/bin/sh
# fetch-debs.sh CACHE DEST PKG...
# Download the ARCH (default arm64) builds of the Debian packages PKG
# (through apt.sh's private APT setup under CACHE: the host's dpkg is never
# told of the architecture) and unpack each with dpkg-deb -x into DEST
# (a sysroot-like tree: DEST/usr/lib/aarch64-linux-gnu/..., DEST/bin/...).
# Nothing is installed and no dependency is followed: name every package.
# The .debs stay in CACHE/debs/ and DEST remembers what it unpacked, so a
# second run downloads and unpacks nothing.  Prints DEST's absolute path.
#   scripts/arm64/fetch-debs.sh build/arm64 build/arm64/sysroot \
#       busybox-static liburcu-dev liburcu8
set -eu
[ $# -ge 3 ] || { echo "usage: fetch-debs.sh CACHE DEST PKG..." >&2; exit 2; }
cache=$1 dest=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
say() { echo "fetch-debs: $*" >&2; }
die() { say "$*"; exit 1; }

mkdir -p "$cache/debs" "$dest/.unpacked"
cache=$(cd "$cache" && pwd)
dest=$(cd "$dest" && pwd)

# The file name apt would download: resolved locally from the lists.
debname() {
	"$here/apt.sh" "$cache" apt-get download --print-uris -q "$1" 2>/dev/null |
	sed -n "s/^'[^']*' \([^ ]*\.deb\) .*/\1/p" | head -n 1
}

for pkg in "$@"; do
	deb=$(debname "$pkg")
	[ -n "$deb" ] || die "no package $pkg for ${ARCH:-arm64} in the Debian lists"
	[ -e "$dest/.unpacked/$deb" ] && continue
	if [ ! -s "$cache/debs/$deb" ]; then
		say "downloading $deb"
		(cd "$cache/debs" && "$here/apt.sh" "$cache" apt-get download -q "$pkg" >&2) ||
			die "apt-get download $pkg failed"
		[ -s "$cache/debs/$deb" ] || die "apt-get download $pkg left no $deb"
	fi
	say "unpacking $deb into $dest"
	dpkg-deb -x "$cache/debs/$deb" "$dest" || die "dpkg-deb -x $deb failed"
	# An older version of the package stays in DEST: it is not removed
	# file by file, but the marker of its unpacking is.
	rm -f "$dest/.unpacked/${deb%%_*}_"*
	: > "$dest/.unpacked/$deb"
done
echo "$dest"
