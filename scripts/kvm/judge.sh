#!/bin/sh
# judge.sh OUT LOG WHERE TROUBLE PROGRAM...
# Read run.sh's framed output in LOG, write each program's own output to
# OUT/<program>.log and print one verdict line for it:
#   PASS  name (N s), and any "SKIP..." line of its output (a case it
#         left out for want of a capability) under it
#   SKIP  name  <<< NOT RUN: <its SKIP line>      (exit 77)
#   FAIL  name (exit N, N s) and the last 30 lines of its output
#   FAIL  name: timed out after N s (killed: it had not exited)
#   FAIL  name: no result (TROUBLE)               (the guest stopped)
# then "check-kvm: N passed, N failed, N skipped (where: WHERE)".  A
# TROUBLE (the guest itself failed) with every program judged is still a
# failure.  Exits 1 on any failure.
out=$1 log=$2 where=$3 trouble=$4
shift 4
pass=0 fail=0 skip=0

for prog in "$@"; do
	name=${prog##*/}
	plog=$out/$name.log
	awk -v n="$name" '
		$0 == "WPT-KVM-BEGIN " n { on = 1; next }
		on && $1 == "WPT-KVM-END" && $2 == n { exit }
		on && /^WPT-KVM-(BEGIN|DONE)/ { exit }
		on { print }' "$log" > "$plog"
	end=$(grep -m1 "^WPT-KVM-END $name " "$log" || true)
	set -- $end
	status=${3:-} secs=${4:-}
	# How long it took, for share.sh to deal the next run's guests.
	[ -z "$secs" ] || echo "$secs" > "$out/$name.secs"
	case $status in
	0)  pass=$((pass + 1)); echo "PASS  $name ($secs s)"
	    # Cases a program left out for want of a capability, loudly.
	    grep '^SKIP' "$plog" | sed 's/^/      <<< /' ;;
	77) skip=$((skip + 1))
	    echo "SKIP  $name  <<< NOT RUN: $(grep -m1 SKIP "$plog")" ;;
	timeout)
	    fail=$((fail + 1))
	    echo "FAIL  $name: timed out after $secs s (killed: it had not exited)"
	    tail -n 30 "$plog" ;;
	"") fail=$((fail + 1))
	    echo "FAIL  $name: no result (${trouble:-its end line is missing})"
	    tail -n 30 "$plog" ;;
	*)  fail=$((fail + 1)); echo "FAIL  $name (exit $status, $secs s)"
	    tail -n 30 "$plog" ;;
	esac
done
if [ -n "$trouble" ] && [ $fail = 0 ]; then
	fail=1
	echo "FAIL  the nested guest: $trouble"
fi
if [ -n "$trouble" ]; then
	for c in "$out"/guest*/console.log; do
		[ -s "$c" ] || continue
		echo "---- last 20 lines of the guest's console, $c ----"
		tail -n 20 "$c"
	done
fi
echo "check-kvm: $pass passed, $fail failed, $skip skipped (where: $where)"
[ $fail = 0 ]
