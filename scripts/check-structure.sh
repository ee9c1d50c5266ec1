#!/bin/sh
# check-structure.sh BUILD DIR MAX_FILE MAX_FUNC [DIR MAX_FILE MAX_FUNC ...]
# The shape the house keeps (STYLE.md), checked rather than hoped for:
#  - no C file in DIR over MAX_FILE lines, no function over MAX_FUNC lines
#    (a function runs from a line that opens with "{" in column 0 to the
#    next "}" in column 0, as every function in the tree is written);
#  - calls between lib/'s files flow one way: the graph "file A uses a
#    symbol file B defines", read from the objects in BUILD/lib with nm,
#    has no cycle (tsort finds one if there is).
# Prints what it checked; exits 1 on any breach.
set -eu
build=$1
shift
fail=0

while [ $# -ge 3 ]; do
	dir=$1 maxfile=$2 maxfunc=$3
	shift 3
	# Tests are tables of cases and may run long; the code they test may not.
	for f in $(find "$dir" -name '*.c' -not -path '*/tests/*' | sort); do
		n=$(wc -l < "$f")
		if [ "$n" -gt "$maxfile" ]; then
			echo "check-structure: $f: $n lines (at most $maxfile)"
			fail=1
		fi
		awk -v max="$maxfunc" -v file="$f" '
			/^\{/ { start = NR; name = prev }
			/^\}/ && start { len = NR - start + 1
				if (len > max) { printf "check-structure: %s:%d: %s: %d lines (at most %d)\n", file, start, name, len, max; bad = 1 }
				start = 0 }
			{ if ($0 ~ /^[a-z].*\(/) prev = $0 }
			END { exit bad }' "$f" || fail=1
	done
done

# Which file defines each global symbol of the library, and which it uses.
# (Only the objects of sources that exist: a removed file's object may
# linger in BUILD.)
objs=$(find lib -name '*.c' | sort | sed "s|^\(.*\)\.c\$|$build/\1.o|")
defs=$(mktemp) edges=$(mktemp)
trap 'rm -f "$defs" "$edges"' EXIT
for o in $objs; do
	nm --defined-only -g "$o" | awk -v f="${o#$build/}" '{ print $3, f }'
done | sort > "$defs"
for o in $objs; do
	nm -u "$o" | awk '{ print $2 }' | sort |
		join - "$defs" | awk -v f="${o#$build/}" '$2 != f { print f, $2 }'
done | sort -u > "$edges"
if ! tsort "$edges" > /dev/null 2> "$edges.err"; then
	echo "check-structure: calls between lib/ files form a cycle:"
	sed 's/^/  /' "$edges.err"
	fail=1
fi
rm -f "$edges.err"
echo "check-structure: $(wc -l < "$edges") file-to-file call edges in lib/, $( [ $fail = 0 ] && echo 'no cycle, sizes within bounds' || echo 'FAILED')"
exit $fail
