#!/bin/sh
# Fetch Debian bookworm's QEMU source (apt-get source qemu: 7.2 with
# Debian's patches applied) into DIR (default build/qemu-src).  Idempotent:
# an existing DIR/VERSION means the source is there.  Needs root for
# apt-get update (a deb-src entry for bookworm is added to
# /etc/apt/sources.list.d/ when there is none) and dpkg-dev
# (scripts/deps.sh --qemu installs it and QEMU's build dependencies).
set -eu
dir=${1:-build/qemu-src}
if [ -f "$dir/VERSION" ] && [ -f "$dir/meson.build" ]; then
	echo "qemu-source: $dir already there ($(cat "$dir/VERSION"))"
	exit 0
fi
[ "$(id -u)" = 0 ] || { echo "qemu-source: needs root for apt-get" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
src=/etc/apt/sources.list.d/wpt-bookworm-src.sources
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ &&
   ! grep -qs '^deb-src' /etc/apt/sources.list; then
	cat > "$src" <<EOS
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
	apt-get update -qq
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qemu-src.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get source -qq qemu >/dev/null)
top=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d -name 'qemu-*' | head -n 1)
[ -n "$top" ] || { echo "qemu-source: apt-get source gave no qemu-* directory" >&2; exit 1; }
mkdir -p "$(dirname "$dir")"
rm -rf "$dir"
mv "$top" "$dir"
echo "qemu-source: $dir ($(cat "$dir/VERSION"))"
