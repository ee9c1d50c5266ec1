#!/bin/sh
# /wpt/run of check-qemu's guest (scripts/arm64/init.sh runs it): real I/O
# through virtio-blk and NVMe behind the SMMUv3 (direct I/O, several sizes,
# written, read back, compared), edu's DMA through vfio-pci (/wpt/edu-dma),
# each device unbound and rebound and used again.  Prints "GUEST ok" or
# "GUEST FAIL <why>" lines; exits non-zero on the first failure.
say() { echo "wpt-guest: $*"; }

failed=0
bad() { echo "GUEST FAIL $*"; failed=1; }
ok() { echo "GUEST ok $*"; }

# bdf_of VENDOR:DEVICE
bdf_of() {
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor"):$(cat "$d/device")" = "$1" ] && { basename "$d"; return; }
	done
}

# blk DEV: dd with O_DIRECT at several sizes and offsets, read back, compare.
blk() {
	dev=$1 n=0
	[ -b "$dev" ] || { bad "no block device $dev"; return; }
	for bs in 4096 65536 1048576; do
		for seek in 0 3; do
			dd if=/dev/urandom of=/tmp/w bs=$bs count=2 2>/dev/null
			dd if=/tmp/w of="$dev" bs=$bs seek=$seek count=2 oflag=direct 2>/dev/null ||
				{ bad "$dev: write bs=$bs"; return; }
			dd if="$dev" of=/tmp/r bs=$bs skip=$seek count=2 iflag=direct 2>/dev/null ||
				{ bad "$dev: read bs=$bs"; return; }
			cmp -s /tmp/w /tmp/r || { bad "$dev: bs=$bs seek=$seek read back differs"; return; }
			n=$((n + 1))
		done
	done
	ok "$dev: $n direct writes read back equal"
}

# rebind BDF DRIVER: unbind and bind again (detach and attach its domain).
rebind() {
	echo "$1" > "/sys/bus/pci/drivers/$2/unbind" || { bad "unbind $1 from $2"; return; }
	echo "$1" > "/sys/bus/pci/drivers/$2/bind" || { bad "bind $1 to $2"; return; }
	sleep 1
	ok "$1 unbound from $2 and bound again"
}

edu() {
	out=$(/wpt/edu-dma "$1")
	echo "$out"
	case $out in "edu-dma: ok "*) ok "edu DMA through vfio-pci" ;; *) bad "edu DMA" ;; esac
}

vblk=$(bdf_of 0x1af4:0x1042)
nvme=$(bdf_of 0x1b36:0x0010)
edu=$(bdf_of 0x1234:0x11e8)
[ -n "$vblk" ] && [ -n "$nvme" ] && [ -n "$edu" ] ||
	{ bad "devices: virtio-blk '$vblk' nvme '$nvme' edu '$edu'"; exit 1; }
grep -q . "/sys/bus/pci/devices/$edu/iommu_group/type" 2>/dev/null &&
	say "edu's group: $(cat /sys/bus/pci/devices/$edu/iommu_group/type)"
say "iommu domain type: $(cat /sys/bus/pci/devices/$vblk/iommu_group/type 2>/dev/null); cmdline: $(cat /proc/cmdline)"

nvdev=$(ls /sys/bus/pci/devices/$nvme/nvme/ 2>/dev/null | head -n 1)
blk /dev/vda
blk "/dev/${nvdev}n1"

echo 1234 11e8 > /sys/bus/pci/drivers/vfio-pci/new_id 2>/dev/null
for i in 1 2 3 4 5; do [ -e "/sys/bus/pci/drivers/vfio-pci/$edu" ] && break; sleep 1; done
[ -e "/sys/bus/pci/drivers/vfio-pci/$edu" ] || bad "edu did not bind to vfio-pci"
edu "$edu"

rebind "$nvme" nvme
for i in 1 2 3 4 5; do [ -b "/dev/${nvdev}n1" ] && break; sleep 1; done
blk "/dev/${nvdev}n1"
rebind "$vblk" virtio-pci
for i in 1 2 3 4 5; do [ -b /dev/vda ] && break; sleep 1; done
blk /dev/vda
rebind "$edu" vfio-pci
edu "$edu"

# Any SMMU event (F_TRANSLATION = 0x10, ...) the driver logged is a failure.
events=$(dmesg | grep -c 'arm-smmu-v3.*event 0x')
[ "$events" = 0 ] && ok "no SMMU events" || { bad "$events SMMU events:"; dmesg | grep 'arm-smmu-v3.*event' | head -n 5; }
exit $failed
