#!/bin/sh
# run.sh KVMTOOL_SRC OUT: make check-kvmtool's three-level run.
#   level 0  QEMU TCG arm64, virtualization=on, iommu=smmuv3, edu
#   level 1  Debian's arm64 Linux: KVM, edu bound to vfio-pci, runs the
#            patched lkvm --smmuv3 passing edu through (l1.sh)
#   level 2  the same stock kernel under lkvm: arm-smmu-v3 probes kvmtool's
#            SMMUv3, edu bound to vfio-pci, l2-dma maps, DMAs, unmaps (l2.sh)
# Builds on the way, in OUT: libwpt and lkvm-static for arm64 (kvmtool
# patched with vmm-glue/kvmtool/patches, the glue copied in), l2-dma, both
# initramfs.  Debian's arm64 packages come through scripts/arm64/ (a
# private APT setup; nothing is installed for arm64).
# Environment: KT_MODES (default "trap hybrid trap,step": trap,step sends
# every NISV exit down the single-step path), KT_BUFFERS (16),
# KT_ROUNDS (2), KT_TIMEOUT (QEMU's bound per mode, 900 s).
# Exit 0 if every mode passed.
set -eu
[ $# = 2 ] || { echo "usage: run.sh KVMTOOL_SRC OUT" >&2; exit 2; }
src=$(cd "$1" && pwd) out=$2
top=$(cd "$(dirname "$0")/../.." && pwd)
say() { echo "check-kvmtool: $*"; }
die() { say "FAIL: $*"; exit 1; }
t0=$(date +%s)
stage() { say "[$(( $(date +%s) - t0 )) s] $*"; }

[ -f "$src/kvm.c" ] && [ -f "$src/vfio/core.c" ] || die "$src is not a kvmtool tree"
[ -d "$top/scripts/arm64" ] || die "scripts/arm64/ (the arm64 fetch and boot scripts) is missing"
"$top/scripts/deps.sh" --kvmtool || die "missing Debian packages (see above)"
mkdir -p "$out"
out=$(cd "$out" && pwd)

stage "fetching Debian's arm64 kernel, busybox, liburcu, libfdt, libbsd"
eval "$("$top/scripts/arm64/fetch.sh" "$top/build-kvmtool/arm64" libfdt-dev libfdt1 \
	libbsd-dev libmd-dev)"
lib=$SYSROOT/usr/lib/aarch64-linux-gnu

stage "cross-building libwpt, lkvm-static (patched) and l2-dma for arm64"
"$top/scripts/kvmtool/build-arm64.sh" "$src" "$out" "$SYSROOT"

stage "initramfs for level 2, then level 1"
mods="-k vfio-pci -k vfio_iommu_type1"
"$top/scripts/arm64/mkinitramfs.sh" -b "$BUSYBOX" -r "$top/scripts/kvmtool/l2.sh" \
	-f "$out/l2-dma" -f "$top/scripts/kvmtool/bind-edu.sh" \
	-m "$KMODDIR" $mods "$out/l2" >/dev/null
"$top/scripts/arm64/mkinitramfs.sh" -b "$BUSYBOX" -r "$top/scripts/kvmtool/l1.sh" \
	-f "$out/kvmtool/lkvm-static" -f "$KIMAGE:/wpt/Image" \
	-f "$out/l2/initramfs.cpio:/wpt/l2.cpio" \
	-f "$top/scripts/kvmtool/bind-edu.sh" -m "$KMODDIR" $mods "$out/l1" >/dev/null

pass=0 fail=0
for mode in ${KT_MODES:-trap hybrid trap,step}; do
	stage "three levels, --smmuv3=$mode"
	log=$out/console-$(echo "$mode" | tr , -).log
	set +e
	"$top/scripts/arm64/run.sh" -t "${KT_TIMEOUT:-900}" -l "$log" -m 2G \
		-M iommu=smmuv3 \
		-a "wpt.args=$(echo "$mode" | tr , +),${KT_BUFFERS:-16},${KT_ROUNDS:-2},$(( ${KT_TIMEOUT:-900} - 60 ))" \
		"$KIMAGE" "$out/l1/initramfs.cpio" \
		-- -device edu,dma_mask=0xffffffffffffffff
	rc=$?
	set -e
	grep -a -E '# (wpt|smmuv3)|l2-dma:|translation faults|policy:' "$log" |
		sed "s/^/check-kvmtool: [$mode] /" || true
	if [ $rc = 0 ]; then
		pass=$((pass + 1)); say "PASS  three levels, $mode"
	else
		fail=$((fail + 1)); say "FAIL  three levels, $mode (status $rc; console in $log)"
		tail -n 25 "$log" | sed 's/^/  | /'
	fi
done
stage "done: $pass modes passed, $fail failed"
[ $fail = 0 ]
