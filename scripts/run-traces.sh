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
if [ -n "$gen" ] && [ -x "$gen" ]; then
	for seed in 1 2 3 4 5 6 7 8; do
		name=gen-seed-$seed
		if ! "$gen" --seed "$seed" > "$tmp/gen.trace" 2> "$tmp/gen.err"; then
			echo "FAIL  $name: the generator failed"
			sed 's/^/      /' "$tmp/gen.err" | head -n 20
			fail=$((fail + 1))
			continue
		fi
		if "$replay" --verify "$tmp/gen.trace" > /dev/null 2> "$tmp/err"; then
			pass=$((pass + 1))
			echo "PASS  $name"
		else
			echo "FAIL  $name: --verify (trace kept as $name.trace)"
			sed 's/^/      /' "$tmp/err" | head -n 20
			cp "$tmp/gen.trace" "./$name.trace" 2>/dev/null
			fail=$((fail + 1))
		fi
	done
elif [ -n "$gen" ]; then
	echo "SKIP  generated traces  <<< NOT RUN: no generator at $gen"
fi

echo "traces: $pass passed, $fail failed"
[ $fail = 0 ]
