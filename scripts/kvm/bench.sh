#!/bin/sh
# bench.sh OUT BENCHBIN [ARGS...]      (what `make bench` runs without a
# usable /dev/kvm, or with NESTED=1)
# Run the static wpt-bench BENCHBIN with ARGS in the nested guest
# (guest.sh: TCG x86-64, Debian's kernel, kvm-amd on QEMU's emulated SVM
# with nested paging), labelled "nested SVM under TCG" in its table and
# JSON; print its output and copy the JSON it wrote to
# bench/results/latest.json.  The guest has no gnuplot: the chart is drawn
# here from that JSON (wpt-bench --chart-from).  Exit status: the
# bench's, or 1 when the guest failed.
# Environment: BENCH_TIMEOUT seconds the guest may run (default 600 with
# --quick, 3600 without); KERNEL, MODULES as for check-kvm.
set -eu
out=$1 bin=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
export NESTED_TAG=bench
mkdir -p "$out"
out=$(cd "$out" && pwd)
exec 9> "$out/.lock"
flock -w 900 9 || { echo "bench: $out/.lock stayed taken for 15 minutes"; exit 1; }

case " $* " in
*" --quick "*) timeout_s=${BENCH_TIMEOUT:-600} ;;
*) timeout_s=${BENCH_TIMEOUT:-3600} ;;
esac
# The guest's runner: wpt-bench's arguments fixed here, in a script the
# guest runs (its /wpt/job has only the bound).
{
	echo '#!/bin/sh'
	echo 'export WPT_KVM_WHERE="nested SVM under TCG"'
	printf 'exec /wpt/wpt-bench --no-chart --json /tmp/bench/results/latest.json'
	for a in "$@"; do printf " '%s'" "$(printf '%s' "$a" | sed "s/'/'\\\\''/g")"; done
	echo
} > "$out/wpt-bench-run"
chmod 755 "$out/wpt-bench-run"
echo "bench: no usable host KVM ($(NESTED=0 "$here/where.sh" "${KVM_PROBE:-build/kvm/kvm-usable}" 2>/dev/null || true)): running in a TCG guest with nested SVM"
echo "bench: absolute times there say nothing about hardware; read the ratios and the floors"
start=$(date +%s)
set +e
"$here/guest.sh" "$out" "bench $((timeout_s - 60))" "$timeout_s" \
	"$bin=/wpt/wpt-bench" "$out/wpt-bench-run=/wpt/wpt-bench-run"
set -e
sed -n '/^WPT-KVM-BEGIN /,/^WPT-KVM-END /p' "$out/console.log" |
	sed '1d; /^WPT-KVM-END /d' | tee "$out/bench.out"
end=$(grep -m1 '^WPT-KVM-END ' "$out/console.log" || true)
set -- $end
status=${3:-none}
sed -n '/^WPT-KVM-JSON-BEGIN/,/^WPT-KVM-JSON-END/p' "$out/console.log" |
	sed '1d; $d' > "$out/latest.json" || true
if [ -s "$out/latest.json" ]; then
	mkdir -p bench/results
	cp "$out/latest.json" bench/results/latest.json
	echo "bench: wrote bench/results/latest.json (from the guest)"
	if command -v gnuplot >/dev/null 2>&1; then
		"$bin" --chart-from bench/results/latest.json \
			--png bench/results/latest.png ||
			echo "bench: the chart failed (the results stand)"
	else
		echo "bench: no chart: gnuplot is missing (scripts/deps.sh --bench installs gnuplot-nox)"
	fi
fi
trouble=$(cat "$out/trouble" 2>/dev/null || true)
echo "bench: the guest ran $(( $(date +%s) - start )) s; its console is $out/console.log"
case $status in
0) [ -z "$trouble" ] || { echo "bench: FAILED: $trouble"; exit 1; }; exit 0 ;;
timeout) echo "bench: FAILED: wpt-bench was killed after $((timeout_s - 60)) s (BENCH_TIMEOUT)"; exit 1 ;;
none) echo "bench: FAILED: ${trouble:-wpt-bench never ended}"; exit 1 ;;
*) echo "bench: FAILED: wpt-bench exited $status"; exit 1 ;;
esac
