#!/bin/sh
# Apply a quilt-style series (SERIESDIR/series naming SERIESDIR/*.patch)
# to TREE, a copy of the pristine SRC, touching only files whose patched
# text differs from what TREE holds: files the series no longer patches go
# back to SRC's text; files it never touched keep their timestamps.  A file
# edited in TREE since the last application (TREE/.wpt-applied keeps what
# was written) is never overwritten: refresh the series from it first.
#   scripts/qemu/apply.sh SRC TREE SERIESDIR
set -eu
src=$1 tree=$2 series=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qemu-apply.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
list=$tree/.wpt-patched
kept=$tree/.wpt-applied
# Every file the series names (+++ lines of its patches), in a copy of SRC.
files=$(grep -v '^#' "$series/series" | while read -r p; do
	[ -n "$p" ] || continue
	sed -n 's|^+++ [^/]*/\([^	 ]*\).*|\1|p' "$series/$p"; done | sort -u)
for f in $files; do
	mkdir -p "$tmp/$(dirname "$f")"
	[ -f "$src/$f" ] && cp -p "$src/$f" "$tmp/$f"
done
grep -v '^#' "$series/series" | while read -r p; do
	[ -n "$p" ] || continue
	patch -s -p1 -d "$tmp" --no-backup-if-mismatch < "$series/$p" ||
	{ echo "qemu-apply: $p does not apply" >&2; exit 1; }
done
edited() { # file: TREE's copy differs from what was applied last
	[ -f "$tree/$1" ] && [ -f "$kept/$1" ] && ! cmp -s "$tree/$1" "$kept/$1"
}
for f in $files $( [ -f "$list" ] && cat "$list"); do
	if edited "$f" && ! cmp -s "$tmp/$f" "$tree/$f"; then
		echo "qemu-apply: $tree/$f was edited since the series was applied:" \
		  "run scripts/qemu/refresh.sh (make qemu-refresh) first" >&2
		exit 1
	fi
done
for f in $files; do
	mkdir -p "$kept/$(dirname "$f")"
	cp "$tmp/$f" "$kept/$f"
	cmp -s "$tmp/$f" "$tree/$f" && continue
	mkdir -p "$tree/$(dirname "$f")" && cp "$tmp/$f" "$tree/$f"
	echo "qemu-apply: $f"
done
# Files an earlier series patched and this one does not: back to SRC.
[ -f "$list" ] && for f in $(cat "$list"); do
	echo "$files" | grep -qx "$f" && continue
	if [ -f "$src/$f" ]; then cmp -s "$src/$f" "$tree/$f" || cp "$src/$f" "$tree/$f"
	else rm -f "$tree/$f"; fi
done
echo "$files" > "$list"
