#!/bin/sh
# make check-abi: the shared library's ABI is exactly include/wpt.h.
#   - its SONAME is its file name (libwpt.so.0);
#   - it exports (nm -D --defined-only) exactly the functions wpt.h
#     declares, nothing else (no internal function, no data, no test hook
#     that the header does not declare);
#   - every export has a default version LIBWPT_<x.y>, a node of
#     lib/libwpt.map, and the map names exactly wpt.h's functions;
#   - debian/libwpt0.symbols lists exactly those name@version pairs.
# The lists come from the header (scripts/pkg/api-functions.sh), so moving
# a function out of wpt.h means moving it out of the map and the symbols
# file too: this check names each file that still disagrees.
# $1: the library (lib/libwpt.so.0).  Exit 0 or 1.
set -u
lib=${1:-lib/libwpt.so.0}
map=lib/libwpt.map
symbols=debian/libwpt0.symbols
tmp=$(mktemp -d /tmp/wpt-abi.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
pass() { passes=$((passes + 1)); echo "PASS  check-abi: $*"; }
fail() { fails=$((fails + 1)); echo "FAIL  check-abi: $*"; }

# Report the difference of two sorted lists. $1: what, $2/$3: the files,
# $4/$5: how to name a line only in the first / only in the second.
compare() {
	only1=$(comm -23 "$2" "$3" | tr '\n' ' ')
	only2=$(comm -13 "$2" "$3" | tr '\n' ' ')
	if [ -z "$only1$only2" ]; then pass "$1 ($(wc -l < "$2") functions)"; return; fi
	[ -n "$only1" ] && fail "$1: $4: $only1"
	[ -n "$only2" ] && fail "$1: $5: $only2"
}

scripts/pkg/api-functions.sh > "$tmp/declared" || { echo "FAIL  check-abi: cannot read wpt.h"; exit 1; }

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" = "$(basename "$lib")" ]; then pass "SONAME $soname"
else fail "SONAME is '$soname', expected $(basename "$lib")"; fi

# Exports: "ADDR TYPE name@@NODE"; the nodes themselves are type A.
nm -D --defined-only "$lib" | awk '$2 != "A" { print $3 }' | sort > "$tmp/exports"
sed 's/@.*//' "$tmp/exports" | sort -u > "$tmp/exported"
compare "exports = wpt.h's functions" "$tmp/exported" "$tmp/declared" \
	"exported but not declared in wpt.h (make them static or drop them from $map)" \
	"declared in wpt.h but not exported (add them to a node of $map)"

unversioned=$(grep -v '@@LIBWPT_[0-9][0-9]*\.[0-9][0-9]*$' "$tmp/exports" | tr '\n' ' ')
if [ -z "$unversioned" ]; then pass "every export has a default version LIBWPT_x.y"
else fail "exports without a LIBWPT_x.y default version: $unversioned"; fi

# The map's global names (between "global:" and "local:" of each node).
sed 's|/\*.*\*/||; /\/\*/,/\*\//d' "$map" |
	awk '/global:/ { g = 1; next } /local:|}/ { g = 0 } g' |
	tr -d ' \t;' | grep . | sort > "$tmp/mapped"
compare "$map names = wpt.h's functions" "$tmp/mapped" "$tmp/declared" \
	"in $map but not declared in wpt.h" "declared in wpt.h but not in $map"

if [ -f "$symbols" ]; then
	sed -n 's/^ \(wpt_[a-z0-9_]*@LIBWPT_[0-9.]*\) .*/\1/p' "$symbols" | sort > "$tmp/listed"
	sed 's/@@/@/' "$tmp/exports" | sort > "$tmp/expected"
	compare "$symbols = the exports with their versions" "$tmp/listed" "$tmp/expected" \
		"in $symbols but not exported so" "exported but not in $symbols"
else
	fail "no $symbols"
fi

echo "check-abi: $passes passed, $fails failed"
[ $fails = 0 ]
