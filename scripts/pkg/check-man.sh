#!/bin/sh
# make check-man: the man pages in man/ render without a warning, name
# what they document, and cover the API and the tools:
#   - `man --warnings -l` prints nothing on stderr for every page;
#   - every page's NAME (as lexgrog, man-db's whatis parser, reads it,
#     following .so links) lists the name of its own file, and every name a
#     NAME section lists has a page file (so each function has its link);
#   - every function include/wpt.h declares has a section 3 page, and
#     every section 3 page is of a function or struct it declares;
#   - every --option a tool's --help prints appears in its section 1 page.
# Arguments: the tool binaries (their page is man1/<basename>.1).
set -u
tmp=$(mktemp -d /tmp/wpt-man.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
pass() { passes=$((passes + 1)); echo "PASS  check-man: $*"; }
fail() { fails=$((fails + 1)); echo "FAIL  check-man: $*"; }

if ! scripts/deps.sh --man; then
	echo "FAIL  check-man: man-db and groff are needed (scripts/deps.sh --man)"
	exit 1
fi
root=$(pwd)
tools="$*"
cd man || { echo "FAIL  check-man: no man/ directory"; exit 1; }
pages=$(ls man1/*.1 man3/*.3)

# .so requests resolve against the man tree's root, as man does.
for p in $pages; do
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$p" > /dev/null 2> "$tmp/err"
	[ -s "$tmp/err" ] && fail "$p renders with warnings: $(head -n 3 "$tmp/err" | tr '\n' ' ')"
done
[ $fails = 0 ] && pass "$(echo "$pages" | wc -l) pages render without warnings"

lexgrog $pages 2>&1 | sed -n 's/^\([^:]*\): "\(.*\) - .*"$/\1 \2/p' > "$tmp/names"
before=$fails
for p in $pages; do
	n=$(basename "$p"); n=${n%.*}
	grep -qx "$p $n" "$tmp/names" || fail "$p: its NAME section does not list $n"
done
cut -d' ' -f2 "$tmp/names" | sort -u | while read -r n; do
	[ -f "man1/$n.1" ] || [ -f "man3/$n.3" ] || echo "$n"
done > "$tmp/unlinked"
[ -s "$tmp/unlinked" ] && fail "named in a NAME section but no page (add a .so link): $(tr '\n' ' ' < "$tmp/unlinked")"
[ $fails = $before ] && pass "every page's NAME lists its own name; every name has a page"

(cd "$root" && scripts/pkg/api-functions.sh) > "$tmp/api" || fail "cannot read wpt.h"
missing=$(while read -r f; do [ -f "man3/$f.3" ] || printf '%s ' "$f"; done < "$tmp/api")
if [ -z "$missing" ]; then pass "every function of wpt.h has a page ($(wc -l < "$tmp/api"))"
else fail "functions of wpt.h without a man3 page: $missing"; fi

# And no page outlives its function: a man3 page names a function or a
# struct of wpt.h, or is the overview.
sed -n 's/^struct \(wpt_[a-z0-9_]*\) {.*/\1/p' "$root/include/wpt.h" >> "$tmp/api"
stale=$(for p in man3/*.3; do n=$(basename "$p" .3)
	[ "$n" = libwpt ] || grep -qx "$n" "$tmp/api" || printf '%s ' "$p"; done)
if [ -z "$stale" ]; then pass "every man3 page is of a function or struct in wpt.h"
else fail "man3 pages of nothing wpt.h declares (remove them, and their name from NAME): $stale"; fi

for t in $tools; do
	page=man1/$(basename "$t").1
	[ -f "$page" ] || { fail "$t has no page $page"; continue; }
	"$root/$t" --help > "$tmp/help" 2>&1 || { fail "$t --help failed"; continue; }
	LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$page" 2>/dev/null | col -b > "$tmp/page"
	undoc=$(grep -o -- '--[a-z][a-z0-9-]*' "$tmp/help" | sort -u | while read -r o; do
		grep -q -- "$o" "$tmp/page" || printf '%s ' "$o"; done)
	if [ -z "$undoc" ]; then pass "$page documents every option of $(basename "$t") --help"
	else fail "$page lacks options that $(basename "$t") --help lists: $undoc"; fi
done

echo "check-man: $passes passed, $fails failed"
[ $fails = 0 ]
