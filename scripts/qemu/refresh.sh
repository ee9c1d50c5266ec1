#!/bin/sh
# Regenerate the series' patches from a patched tree (the glue's developer
# loop: edit build/qemu-tree, refresh, build).
#   scripts/qemu/refresh.sh SRC TREE SERIESDIR            every patch
#   scripts/qemu/refresh.sh SRC TREE SERIESDIR P FILE...  (re)make patch P
#                                                          from FILEs
# A patch keeps its header (up to its "---" line); its files are the ones
# its +++ lines name.  New files are diffed against /dev/null.
set -eu
src=$1 tree=$2 series=$3
shift 3
one() { # patch files...
	p=$1; shift
	hdr=$(mktemp)
	if [ -f "$series/$p" ]; then
		sed '/^---$/q' "$series/$p" > "$hdr"
	else
		printf 'From: wptrack vmm-glue\nSubject: [PATCH] %s\n\n---\n' "$p" > "$hdr"
	fi
	{
		cat "$hdr"
		for f in "$@"; do
			if [ -f "$src/$f" ]; then
				(cd "$src" && diff -up --label "a/$f" --label "b/$f" "$f" "$(cd "$OLDPWD" && cd "$tree" && pwd)/$f") || true
			else
				diff -uN --label /dev/null --label "b/$f" /dev/null "$tree/$f" || true
			fi
		done
	} > "$series/$p.new"
	mv "$series/$p.new" "$series/$p"
	rm -f "$hdr"
}
if [ $# -gt 0 ]; then
	one "$@"
	grep -qx "$1" "$series/series" || echo "$1" >> "$series/series"
	exit 0
fi
grep -v '^#' "$series/series" | while read -r p; do
	[ -n "$p" ] || continue
	one "$p" $(sed -n 's|^+++ [^/]*/\([^	 ]*\).*|\1|p' "$series/$p")
done
