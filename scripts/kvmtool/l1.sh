#!/bin/sh
# Level 1 (Linux with KVM under QEMU TCG, edu behind QEMU's SMMUv3): bind
# edu to vfio-pci and run the level-1 VMM passing it through to level 2:
# the patched lkvm with --smmuv3=MODE (check-kvmtool), or, when the
# initramfs holds /wpt/qemu-system-aarch64, the patched QEMU with KVM and
# its SMMUv3 with wpt=on, wpt-mode=MODE (check-qemu-kvm; MODE+step
# single-steps every store without syndrome instead of emulating it).
# Arguments (from wpt.args): MODE BUFFERS ROUNDS TIMEOUT [VCPUS] (level 2's
# vCPUs under QEMU, default 1).
# init.sh has mounted everything and runs this as /wpt/run.
say() { echo "wpt-run: $*"; }
fail() { echo "wpt-run: FAIL: $*"; dmesg | tail -n 15; exit 1; }
mode=$(echo "${1:-trap}" | tr + ,) # wpt.args splits at commas
tmo=${4:-400} vcpus=${5:-1}
# The level-2 kernel's DMA domains strict with trap, lazy with hybrid, so
# both of Linux's unmap paths meet the SMMU (edu's own VFIO domain is
# strict either way).
strict=1
case $mode in hybrid*) strict=0 ;; esac
[ -c /dev/kvm ] || fail "no /dev/kvm at level 1"
dmesg | grep -i -E 'smmu|kvm \[' | head -n 5 | sed 's/^/l1-dmesg: /'
. /wpt/bind-edu.sh
export HOME=/tmp
before=$(dmesg | grep -c 'event 0x10' || true)
l2cmd="panic=-1 quiet loglevel=4 iommu.strict=$strict wpt.args=${2:-16},${3:-2}"
if [ -x /wpt/qemu-system-aarch64 ]; then
	step=off
	case $mode in *,step) step=on mode=${mode%,step} ;; esac
	set -- /wpt/qemu-system-aarch64 -accel kvm -cpu host \
		-M virt,gic-version=3,iommu=smmuv3 -smp "$vcpus" -m 256 \
		-nographic -nodefaults -no-reboot -serial stdio \
		-kernel /wpt/Image -initrd /wpt/l2.cpio \
		-append "console=ttyAMA0 $l2cmd" \
		-global arm-smmuv3.wpt=on -global arm-smmuv3.wpt-mode="$mode" \
		-global arm-smmuv3.x-wpt-verify=on \
		-global arm-smmuv3.x-wpt-nisv-step=$step \
		-device vfio-pci,host="$EDU"
else
	set -- /wpt/lkvm-static run -k /wpt/Image \
		-i /wpt/l2.cpio -m 256 -c 1 --smmuv3="$mode" --vfio-pci "$EDU" \
		--console serial --network mode=none -p "$l2cmd"
fi
say "$*, up $(cut -d' ' -f1 /proc/uptime) s"
# Bounded: a level-2 guest that hangs must not hang the run.
timeout -s KILL "$tmo" "$@" 2>&1 |
	tr -d '\r' | tee /tmp/l2.log | sed 's/^/l2| /'
after=$(dmesg | grep -c 'event 0x10' || true)
say "level 0's SMMU reported $((after - before)) translation faults (event 0x10) for edu"
dmesg | grep 'event 0x10' | head -n 2 | sed 's/^/l1-dmesg: /'
say "level 2 done, up $(cut -d' ' -f1 /proc/uptime) s"
rc=$(sed -n 's/^WPT-EXIT //p' /tmp/l2.log | head -n 1)
[ -n "$rc" ] || { say "level 2 ended without a WPT-EXIT line"; exit 125; }
# Level 2 judged each refused DMA by its target page; the host's SMMU
# must also have faulted them (Linux rate-limits the log: at least one).
if [ "$rc" = 0 ] && [ $((after - before)) -eq 0 ] &&
   grep -q 'l2-dma: .* [1-9][0-9]* refused' /tmp/l2.log; then
	say "FAIL: DMAs to unmapped IOVAs left no fault at level 0's SMMU"
	exit 1
fi
exit "$rc"
