#!/bin/sh
# check.sh QEMU OUT        (what `make check-qemu` runs)
# Boot Debian's arm64 kernel under the patched QEMU (TCG, -smp 1) on a virt
# machine with an SMMUv3 (wpt=on, x-wpt-verify=on), with virtio-blk-pci
# (iommu_platform=on), NVMe and edu behind it; the guest
# (vmm-glue/qemu/tests/guest.sh) does direct I/O on both disks, edu DMA
# through vfio-pci, unbinds and rebinds.  Once per mode (trap, hybrid) and
# invalidation policy (iommu.strict=1, lazy).  A run passes when the guest
# reports no failure and exits 0, QEMU's glue counted more than 0 trapped
# stores, 0 mismatches, 0 faulted domains, 0 library errors.  Then one run
# in inval mode (what QEMU would do without the glue, if it took MAP
# notifiers) must show the verifier catching what that misses.
#   QEMU_CHECK_TIMEOUT  seconds per boot (default 180)
# Prints each run's counters and "check-qemu: N passed, M failed".
set -eu
qemu=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
tmo=${QEMU_CHECK_TIMEOUT:-180}
say() { echo "check-qemu: $*"; }
passed=0 failed=0
die() { say "$*"; say "$passed passed, $((failed + 1)) failed"; exit 1; }

[ -x "$qemu" ] || die "no QEMU at $qemu (make qemu)"
qemu=$(cd "$(dirname "$qemu")" && pwd)/$(basename "$qemu")
mkdir -p "$out"
out=$(cd "$out" && pwd)
exec 9> "$out/.lock"
flock -w 600 9 || die "$out/.lock stayed taken for 10 minutes"

t0=$(date +%s)
env=$("$top/scripts/arm64/fetch.sh" "$top/build/arm64" 2> "$out/fetch.log") ||
	{ tail -n 5 "$out/fetch.log"; die "cannot fetch Debian's arm64 kernel and busybox"; }
eval "$env"
aarch64-linux-gnu-gcc -static -O2 -Wall -Wextra -o "$out/edu-dma" \
	"$top/vmm-glue/qemu/tests/edu-dma.c" || die "cross-building edu-dma failed"
"$top/scripts/arm64/mkinitramfs.sh" -b "$BUSYBOX" \
	-r "$top/vmm-glue/qemu/tests/guest.sh" -f "$out/edu-dma" \
	-m "$KMODDIR" -k arm_smmu_v3 -k virtio_pci -k virtio_blk -k nvme \
	-k vfio-pci "$out/initramfs" 2> "$out/initramfs.log" ||
	{ tail -n 5 "$out/initramfs.log"; die "building the initramfs failed"; }
say "kernel $KVER, guest ready in $(( $(date +%s) - t0 )) s"

# counter NAME LINE: the value of NAME= in the glue's exit line.
counter() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }

# boot NAME MODE CMDLINE: one guest; leaves $out/NAME.log(.qemu).
boot() {
	truncate -s 0 "$out/$1-vda.img" "$out/$1-nvme.img"
	truncate -s 64M "$out/$1-vda.img" "$out/$1-nvme.img"
	set +e
	PATH=$(dirname "$qemu"):$PATH "$top/scripts/arm64/run.sh" -t "$tmo" \
		-m 512M -l "$out/$1.log" -M iommu=smmuv3 -a "$3" \
		"$KIMAGE" "$out/initramfs/initramfs.cpio" -- \
		-global arm-smmuv3.wpt=on -global arm-smmuv3.wpt-mode="$2" \
		-global arm-smmuv3.x-wpt-verify=on \
		-drive "file=$out/$1-vda.img,if=none,format=raw,id=vda" \
		-device virtio-blk-pci,drive=vda,iommu_platform=on,disable-legacy=on \
		-drive "file=$out/$1-nvme.img,if=none,format=raw,id=nvm" \
		-device nvme,drive=nvm,serial=wpt0 \
		-device edu,dma_mask=0xffffffffffffffff > "$out/$1.out" 2>&1
	rc=$?
	set -e
	rm -f "$out/$1-vda.img" "$out/$1-nvme.img"
	return $rc
}

# run NAME MODE CMDLINE: a run that must pass.
run() {
	s=$(date +%s)
	boot "$@" && rc=0 || rc=$?
	line=$(grep -a '^smmuv3-wpt: mode=' "$out/$1.log.qemu" | tail -n 1)
	vline=$(grep -a '^smmuv3-wpt: verify' "$out/$1.log.qemu" | tail -n 1)
	why=""
	[ $rc = 0 ] || why="$why guest exit $rc;"
	! grep -aq '^GUEST FAIL' "$out/$1.log" || why="$why $(grep -a -m1 '^GUEST FAIL' "$out/$1.log");"
	[ -n "$line" ] || why="$why no counters from the glue;"
	[ "$(counter trapped_stores "$line")" -gt 0 ] 2>/dev/null || why="$why no trapped stores;"
	[ "$(counter mismatches "$vline")" = 0 ] || why="$why mismatches=$(counter mismatches "$vline");"
	for c in faulted_domains lib_errors sink_errors refused; do
		[ "$(counter $c "$line")" = 0 ] || why="$why $c=$(counter $c "$line");"
	done
	say "$1 ($(( $(date +%s) - s )) s): ${line#smmuv3-wpt: } ${vline#smmuv3-wpt: }"
	if [ -z "$why" ]; then
		passed=$((passed + 1)); say "PASS $1"
	else
		failed=$((failed + 1)); say "FAIL $1:$why (see $out/$1.log and $1.log.qemu)"
		grep -a 'GUEST\|edu-dma\|smmuv3-wpt' "$out/$1.log" "$out/$1.log.qemu" | head -n 20
	fi
}

run trap-strict trap "iommu.strict=1"
run trap-lazy trap "iommu.strict=0"
run hybrid-strict hybrid "iommu.strict=1"
run hybrid-lazy hybrid "iommu.strict=0"

# The verifier itself: in inval mode nothing traps and Linux never
# invalidates on map, so the mirror misses every map: it must say so.
s=$(date +%s)
boot inval-strict inval "iommu.strict=1" || true
vline=$(grep -a '^smmuv3-wpt: verify' "$out/inval-strict.log.qemu" | tail -n 1)
say "inval-strict ($(( $(date +%s) - s )) s): ${vline#smmuv3-wpt: }"
if [ "$(counter mismatches "$vline")" -gt 0 ] 2>/dev/null; then
	passed=$((passed + 1)); say "PASS inval-strict (the verifier sees the maps inval mode misses)"
else
	failed=$((failed + 1)); say "FAIL inval-strict: the verifier found no mismatch where maps were missed"
fi

say "$passed passed, $failed failed ($(( $(date +%s) - t0 )) s)"
[ $failed = 0 ]
