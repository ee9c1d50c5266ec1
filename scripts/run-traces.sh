#!/bin/sh
# Replay every tests/traces/*.trace through wpt-replay and compare:
#   stdout       with NAME.expected (required, may be empty),
#   stderr       with NAME.stderr-expected where that file exists,
#   exit status  with the trace's "# exit: N" comment (0 when absent),
# then replay it again with --verify, which must give the same stdout and
# exit status (every invariant holds after every command up to the end, or
# up to the malformed line).  With a generator (tools/wpt-tracegen), a few
# generated traces are replayed with --verify too and must exit 0.
#
#   scripts/run-traces.sh PATH-TO-WPT-REPLAY [PATH-TO-WPT-TRACEGEN]
replay=$1
gen=$2
dir=$(dirname "$0")/../tests/traces
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

if [ -z "$replay" ] || [ ! -x "$replay" ]; then
	echo "usage: $0 PATH-TO-WPT-REPLAY [PATH-TO-WPT-TRACEGEN]" >&2
	exit 2
fi

bad() {
	echo "FAIL  $name: $1"
	[ -n "$2" ] && sed 's/^/      /' "$2" | head -n 40
	ok=0
}

check_trace() {
	t=$1
	name=$(basename "$t" .trace)
	base=${t%.trace}
	want_rc=$(sed -n 's/^#[[:space:]]*exit:[[:space:]]*\([0-9]*\).*/\1/p' "$t" | head -n 1)
	want_rc=${want_rc:-0}
	ok=1
	"$replay" "$t" > "$tmp/out" 2> "$tmp/err"
	rc=$?
	[ "$rc" = "$want_rc" ] || bad "exit $rc, expected $want_rc" "$tmp/err"
	if [ ! -f "$base.expected" ]; then
		bad "no $name.expected"
	elif ! diff -u "$base.expected" "$tmp/out" > "$tmp/diff"; then
		bad "stdout differs" "$tmp/diff"
	fi
	if [ -f "$base.stderr-expected" ] &&
	   ! diff -u "$base.stderr-expected" "$tmp/err" > "$tmp/diff"; then
		bad "stderr differs" "$tmp/diff"
	fi
	"$replay" --verify "$t" > "$tmp/vout" 2> "$tmp/verr"
	rc=$?
	[ "$rc" = "$want_rc" ] || bad "--verify: exit $rc, expected $want_rc" "$tmp/verr"
	cmp -s "$tmp/out" "$tmp/vout" || bad "--verify changed stdout"
	if [ $ok = 1 ]; then
		pass=$((pass + 1))
		echo "PASS  $name"
	else
		fail=$((fail + 1))
	fi
}

for t in "$dir"/*.trace; do
	[ -e "$t" ] || continue
	check_trace "$t"
done

# Generated traces: no expected output, but every invariant must hold.
# gen_one SEED: generate and replay it with --verify; its verdict in
# $tmp/gen-SEED.out, exit status 0 when it passed.
gen_one() {
	name=gen-seed-$1
	g=$tmp/gen-$1
	if ! "$gen" --seed "$1" > "$g.trace" 2> "$g.err"; then
		{ echo "FAIL  $name: the generator failed"
		  sed 's/^/      /' "$g.err" | head -n 20; } > "$g.out"
		return 1
	fi
	if "$replay" --verify "$g.trace" > /dev/null 2> "$g.err"; then
		echo "PASS  $name" > "$g.out"
		return 0
	fi
	{ echo "FAIL  $name: --verify (trace kept as $name.trace)"
	  sed 's/^/      /' "$g.err" | head -n 20; } > "$g.out"
	cp "$g.trace" "./$name.trace" 2>/dev/null
	return 1
}

if [ -n "$gen" ] && [ -x "$gen" ]; then
	# TEST_JOBS at a time, as run-tests.sh.
	. "$(dirname "$0")/test-jobs.sh"
	seed=1
	while [ $seed -le 8 ]; do
		pids=; first=$seed
		while [ $seed -le 8 ] && [ $((seed - first)) -lt "$jobs" ]; do
			gen_one $seed & pids="$pids $!"
			seed=$((seed + 1))
		done
		s=$first
		for pid in $pids; do
			if wait "$pid"; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
			cat "$tmp/gen-$s.out"
			s=$((s + 1))
		done
	done
elif [ -n "$gen" ]; then
	echo "SKIP  generated traces  <<< NOT RUN: no generator at $gen"
fi

echo "traces: $pass passed, $fail failed"
[ $fail = 0 ]
