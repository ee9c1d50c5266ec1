#!/bin/sh
# check.sh OUT TESTBIN      (what `make check-arm64` runs)
# Boot Debian's arm64 kernel under QEMU/TCG with EL2 (run.sh) and run the
# static arm64 TESTBIN as the guest's /wpt/run: inside, /dev/kvm is a
# real VHE KVM.  TESTBIN prints "PASS/FAIL/SKIP name ..." lines and a
# "counts: nisv=N emulated=N stepped=N ..." line; this prints them, then
#   check-arm64: N passed, N failed, N skipped (nested VHE KVM under TCG)
# and fails on a failed test, a missing exit line, a timeout, or counts
# where NISV exits were not both emulated and single-stepped.
# Environment: ARM64_TIMEOUT (seconds QEMU may run, default 300).
# Uses OUT/env.sh (fetch.sh's output); keeps OUT/console.log.
set -eu
out=$1 testbin=$2
here=$(cd "$(dirname "$0")" && pwd)
timeout_s=${ARM64_TIMEOUT:-300}
where="nested VHE KVM under TCG"
say() { echo "check-arm64: $*"; }
die() { say "$*"; say "0 passed, 1 failed, 0 skipped ($where)"; exit 1; }

start=$(date +%s)
[ -s "$out/env.sh" ] || die "no $out/env.sh (scripts/arm64/fetch.sh's output)"
. "$out/env.sh"
say "kernel Debian $KVER; test $(basename "$testbin")"
"$here/mkinitramfs.sh" -b "$BUSYBOX" -r "$testbin" "$out/initramfs" ||
	die "building the initramfs failed"

set +e
# Two vCPUs: the gap test's second vCPU runs while the first re-cuts.
"$here/run.sh" -s 2 -t "$timeout_s" -l "$out/console.log" "$KIMAGE" \
	"$out/initramfs/initramfs.cpio" > "$out/test.out"
rc=$?
set -e
grep -v '^wpt-init: \|^WPT-EXIT ' "$out/test.out" || true

pass=$(grep -c '^PASS ' "$out/test.out" || true)
fail=$(grep -c '^FAIL ' "$out/test.out" || true)
skip=$(grep -c '^SKIP ' "$out/test.out" || true)
counts=$(grep -m1 '^counts: ' "$out/test.out" || true)
count() { echo "$counts" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
why=""
case $rc in
0) ;;
124) why="timed out after $timeout_s s" ;;
125) why="the guest ended without an exit line" ;;
*) [ "$fail" != 0 ] || why="the test exited $rc" ;;
esac
if [ -z "$counts" ]; then
	why="${why:+$why; }no counts line"
else
	say "NISV exits: $(count nisv), emulated $(count emulated), single-stepped" \
	    "$(count stepped), faults delivered $(count faulted); MMIO stores" \
	    "$(count mmio)"
	[ "$(count emulated)" -gt 0 ] 2>/dev/null && [ "$(count stepped)" -gt 0 ] 2>/dev/null ||
		why="${why:+$why; }NISV exits must be both emulated and stepped"
fi
[ $((pass + fail + skip)) -gt 0 ] || why="${why:+$why; }no test ran"
if [ -n "$why" ]; then
	[ "$fail" != 0 ] || fail=1
	say "FAILED: $why"
	echo "---- last 30 lines of $out/console.log ----"
	tail -n 30 "$out/console.log"
fi
say "took $(( $(date +%s) - start )) s"
say "$pass passed, $fail failed, $skip skipped ($where)"
[ -z "$why" ] && [ "$fail" = 0 ]
