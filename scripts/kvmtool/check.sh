#!/bin/sh
# make check-kvmtool [KVMTOOL_SRC=DIR]: the SMMUv3 model's unit tests, then
# (with a kvmtool tree) the patched lkvm three levels deep (run.sh).
# Prints `check-kvmtool: N passed, N failed, N skipped` last.
set -u
build=${BUILD:-build}
pass=0 fail=0 skip=0
for t in "$@"; do
	name=$(basename "$t")
	start=$(date +%s%N)
	if "$t" > "$build/$name.log" 2>&1; then
		pass=$((pass + 1)); r=PASS
	else
		fail=$((fail + 1)); r=FAIL
	fi
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	printf '%s  %s (%s; %d ms)\n' "$r" "$name" \
	  "$(grep -m1 -o '[0-9]*%: Checks: [0-9]*, Failures: [0-9]*, Errors: [0-9]*' \
	     "$build/$name.log")" "$ms"
	[ $r = FAIL ] && tail -n 30 "$build/$name.log"
done
if [ -z "${KVMTOOL_SRC:-}" ]; then
	skip=$((skip + 1))
	cat <<MSG
SKIP  kvmtool-three-levels  <<< NOT RUN: no kvmtool tree given.
      The three-level run (QEMU TCG arm64 + SMMUv3 + edu -> Linux with KVM
      and vfio-pci -> patched lkvm with its SMMUv3 -> Debian arm64 Linux
      driving edu's DMA) needs kvmtool's source, which is not packaged in
      Debian and which CI cannot fetch.  Run it with
        make check-kvmtool KVMTOOL_SRC=/path/to/kvmtool   (commit b48735e5)
MSG
else
	if scripts/kvmtool/run.sh "$KVMTOOL_SRC" build-kvmtool; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
	fi
fi
echo "check-kvmtool: $pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
