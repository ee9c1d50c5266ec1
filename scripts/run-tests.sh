#!/bin/sh
# Run test binaries, TEST_JOBS at a time (default: one per online CPU; the
# tests share no files, and none asserts a time).  Exit status 77 means
# SKIP (e.g. no /dev/kvm) and is reported loudly, never as a pass.  Any
# failure fails the run, and its log's tail is printed after the list.
#
#   scripts/run-tests.sh BUILD-DIR TEST...
if [ "${1:-}" = --one ]; then	# from xargs below: --one BUILD-DIR TEST
	one_only=1; shift
fi
build=$1; shift
. "$(dirname "$0")/test-jobs.sh"

# One test: its log in BUILD/NAME.log, its exit status in BUILD/NAME.rc,
# one line as soon as it ends (a whole line per write, so lines from
# tests that end together never mix).
one() {
	name=$(basename "$1")
	t0=$(date +%s)
	"$1" > "$build/$name.log" 2>&1
	rc=$?
	echo $rc > "$build/$name.rc"
	t=$(($(date +%s) - t0))
	case $rc in
	0)  echo "PASS  $name  (${t}s)" ;;
	77) echo "SKIP  $name  <<< NOT RUN: $(grep -m1 SKIP "$build/$name.log")" ;;
	*)  echo "FAIL  $name (exit $rc, ${t}s)" ;;
	esac
}

if [ -n "${one_only:-}" ]; then
	one "$1"
	exit 0
fi

[ $# -gt 0 ] || { echo "$0: no tests given" >&2; exit 2; }
# A verdict left by an earlier run must not stand for a test that this
# one never got to start: the list below then reads "lost", a failure.
for t in "$@"; do rm -f "$build/$(basename "$t").rc"; done
printf '%s\n' "$@" | xargs -P "$jobs" -n 1 "$0" --one "$build"

fail=0; skip=0; pass=0
for t in "$@"; do
	name=$(basename "$t")
	rc=$(cat "$build/$name.rc" 2>/dev/null || echo lost)
	case $rc in
	0)  pass=$((pass+1)) ;;
	77) skip=$((skip+1)) ;;
	*)  fail=$((fail+1))
	    echo "---- $name (exit $rc): the last 30 lines of $build/$name.log"
	    tail -n 30 "$build/$name.log" ;;
	esac
done
echo "tests: $pass passed, $fail failed, $skip skipped ($jobs at a time)"
[ $fail = 0 ]
