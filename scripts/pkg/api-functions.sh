#!/bin/sh
# Print the functions include/wpt.h declares, one per line, sorted: the
# public API as the compiler sees it (gcc's -aux-info lists every prototype
# with the file it came from), so the ABI and man page checks follow the
# header with no list of their own.  $1: the header (default include/wpt.h).
set -eu
hdr=${1:-include/wpt.h}
aux=$(mktemp /tmp/wpt-aux.XXXXXX)
trap 'rm -f "$aux"' EXIT
printf '#include "%s"\n' "$(realpath "$hdr")" |
	gcc -fsyntax-only -aux-info "$aux" -x c -
grep -F "$(realpath "$hdr"):" "$aux" |
	sed -n 's/.*[ *]\(wpt_[a-z0-9_]*\) (.*/\1/p' | sort -u
