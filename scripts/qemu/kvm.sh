#!/bin/sh
# kvm.sh QEMU L2DMA OUT     (what `make check-qemu-kvm` runs)
# The QEMU glue under KVM, with a real device, three levels deep:
#   level 0  Debian's qemu-system-aarch64 (TCG), virt with EL2, its SMMUv3
#            and edu (scripts/arm64/run.sh)
#   level 1  Debian's arm64 Linux: a real VHE KVM, edu bound to vfio-pci,
#            runs QEMU (the patched one, cross-built static for arm64) with
#            -accel kvm, -M virt,iommu=smmuv3, the SMMUv3's wpt=on and
#            x-wpt-verify=on, and -device vfio-pci for edu
#            (scripts/kvmtool/l1.sh, shared with check-kvmtool)
#   level 2  the same stock kernel: its arm-smmu-v3 driver (which never
#            invalidates on map) drives QEMU's SMMUv3; edu bound to
#            vfio-pci; l2-dma maps pages, has edu write into them and read
#            from them, unmaps, and checks a DMA to an unmapped IOVA lands
#            nowhere (scripts/kvmtool/l2.sh, vmm-glue/kvmtool/tests/l2-dma.c)
# A mode passes when level 2 reports every DMA where it belongs, and
# level 1's QEMU counted trapped stores, MAP events, stores without
# syndrome handled (emulated, or stepped in the +step mode), 0 faulted
# domains, 0 sink or library errors, 0 refusals and 0 verify mismatches.
# Environment: QK_MODES (default "trap hybrid trap,step": trap,step
# single-steps every KVM_EXIT_ARM_NISV), QK_BUFFERS (16), QK_ROUNDS (2),
# QK_TIMEOUT (level 0's bound per mode, 900 s), QK_VCPUS (level 2's vCPUs,
# 2: a trapped store's re-cut must hold the other one out of KVM_RUN).
# Prints each mode's counters and "check-qemu-kvm: N passed, N failed".
set -eu
[ $# = 3 ] || { echo "usage: kvm.sh QEMU L2DMA OUT" >&2; exit 2; }
qemu=$1 l2dma=$2 out=$3
top=$(cd "$(dirname "$0")/../.." && pwd)
say() { echo "check-qemu-kvm: $*"; }
passed=0 failed=0
die() { say "FAIL: $*"; say "$passed passed, $((failed + 1)) failed"; exit 1; }
t0=$(date +%s)
stage() { say "[$(( $(date +%s) - t0 )) s] $*"; }
tmo=${QK_TIMEOUT:-900}

[ -x "$qemu" ] || die "no arm64 QEMU at $qemu (make qemu-arm64)"
[ -x "$l2dma" ] || die "no l2-dma at $l2dma"
mkdir -p "$out"
out=$(cd "$out" && pwd)
exec 9> "$out/.lock"
flock -w 600 9 || die "$out/.lock stayed taken for 10 minutes"

stage "Debian's arm64 kernel and busybox (build/arm64)"
env=$("$top/scripts/arm64/fetch.sh" "$top/build/arm64" 2> "$out/fetch.log") ||
	{ tail -n 5 "$out/fetch.log"; die "cannot fetch Debian's arm64 kernel and busybox"; }
eval "$env"
# The initramfs is unpacked into level 0's RAM: no debug info.
aarch64-linux-gnu-strip -o "$out/qemu-system-aarch64" "$qemu" ||
	die "cannot strip $qemu"

stage "initramfs for level 2, then level 1"
mods="-k vfio-pci -k vfio_iommu_type1"
l=$top/scripts/kvmtool
# shellcheck disable=SC2086
"$top/scripts/arm64/mkinitramfs.sh" -b "$BUSYBOX" -r "$l/l2.sh" \
	-f "$l2dma" -f "$l/bind-edu.sh" -m "$KMODDIR" $mods "$out/l2" \
	2> "$out/initramfs.log" || { tail -n 5 "$out/initramfs.log"; die "level 2's initramfs"; }
# shellcheck disable=SC2086
"$top/scripts/arm64/mkinitramfs.sh" -b "$BUSYBOX" -r "$l/l1.sh" \
	-f "$out/qemu-system-aarch64" -f "$KIMAGE:/wpt/Image" \
	-f "$out/l2/initramfs.cpio:/wpt/l2.cpio" -f "$l/bind-edu.sh" \
	-m "$KMODDIR" $mods "$out/l1" \
	2>> "$out/initramfs.log" || { tail -n 5 "$out/initramfs.log"; die "level 1's initramfs"; }

# counter NAME LINE: the value of NAME= in a line of the glue's.
counter() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }

# run MODE: one three-level boot.
run() {
	mode=$1 name=$(echo "$1" | tr , -)
	log=$out/console-$name.log
	stage "three levels, wpt-mode=$mode"
	set +e
	"$top/scripts/arm64/run.sh" -t "$tmo" -l "$log" -m 2G -M iommu=smmuv3 \
		-a "wpt.args=$(echo "$mode" | tr , +),${QK_BUFFERS:-16},${QK_ROUNDS:-2},$((tmo - 60)),${QK_VCPUS:-2}" \
		"$KIMAGE" "$out/l1/initramfs.cpio" \
		-- -device edu,dma_mask=0xffffffffffffffff > "$out/$name.out" 2>&1
	rc=$?
	set -e
	line=$(grep -a '^l2| smmuv3-wpt: mode=' "$log" | tail -n 1 | sed 's/^l2| //')
	vline=$(grep -a '^l2| smmuv3-wpt: verify' "$log" | tail -n 1 | sed 's/^l2| //')
	dma=$(grep -a 'l2-dma: [0-9]' "$log" | tail -n 1 | sed 's/^l2| //')
	why=""
	[ $rc = 0 ] || why="$why status $rc;"
	[ -n "$line" ] || why="$why no counters from level 1's QEMU;"
	[ -n "$dma" ] || why="$why no l2-dma summary;"
	for c in trapped_stores map_events; do
		[ "$(counter $c "$line")" -gt 0 ] 2>/dev/null || why="$why $c=0;"
	done
	nisv=nisv_emulated
	case $mode in *,step) nisv=nisv_stepped ;; esac
	[ "$(counter $nisv "$line")" -gt 0 ] 2>/dev/null || why="$why no $nisv;"
	for c in faulted_domains lib_errors sink_errors refused; do
		[ "$(counter $c "$line")" = 0 ] || why="$why $c=$(counter $c "$line");"
	done
	[ "$(counter mismatches "$vline")" = 0 ] || why="$why mismatches=$(counter mismatches "$vline");"
	say "$mode: $dma"
	say "$mode: ${line#smmuv3-wpt: }"
	say "$mode: ${vline#smmuv3-wpt: }"
	if [ -z "$why" ]; then
		passed=$((passed + 1)); say "PASS $mode"
	else
		failed=$((failed + 1)); say "FAIL $mode:$why (console in $log)"
		tail -n 30 "$log" | sed 's/^/  | /'
	fi
}

for m in ${QK_MODES:-trap hybrid trap,step}; do
	run "$m"
done
say "$passed passed, $failed failed ($(( $(date +%s) - t0 )) s)"
[ $failed = 0 ]
