#!/bin/sh
# Level 2 (a stock Debian arm64 Linux under the patched lkvm or QEMU): edu
# behind that VMM's SMMUv3, bound to vfio-pci, driven by l2-dma.  Arguments (from
# wpt.args): BUFFERS ROUNDS.
# init.sh has mounted everything and runs this as /wpt/run.
say() { echo "wpt-run: $*"; }
fail() { echo "wpt-run: FAIL: $*"; dmesg | tail -n 15; exit 1; }
say "IOMMUs: $(ls /sys/class/iommu 2>/dev/null | tr '\n' ' ')"
dmesg | grep -i -E 'smmu|iommu:' | sed 's/^/l2-dmesg: /'
# No interrupt remapping without an ITS: type1 must be told it may.
echo 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts ||
	fail "cannot set vfio_iommu_type1.allow_unsafe_interrupts"
. /wpt/bind-edu.sh
/wpt/l2-dma "$EDU" "$GROUP" "${1:-16}" "${2:-2}"
rc=$?
say "events from the SMMUv3: $(dmesg | grep -c 'smmuv3: event')"
exit $rc
