#!/bin/sh
# Run test binaries; exit status 77 means SKIP (e.g. no /dev/kvm) and is
# reported loudly, never as a pass.  Any failure fails the run.
build=$1; shift
fail=0; skip=0; pass=0
for t in "$@"; do
	name=$(basename "$t")
	"$t" > "$build/$name.log" 2>&1
	rc=$?
	case $rc in
	0)  pass=$((pass+1)); echo "PASS  $name" ;;
	77) skip=$((skip+1)); echo "SKIP  $name  <<< NOT RUN: $(grep -m1 SKIP "$build/$name.log")" ;;
	*)  fail=$((fail+1)); echo "FAIL  $name (exit $rc)"; tail -n 30 "$build/$name.log" ;;
	esac
done
echo "tests: $pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
