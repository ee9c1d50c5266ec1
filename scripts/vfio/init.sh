#!/bin/sh
# /init of the check-vfio guest (busybox sh).  Loads the vfio modules,
# binds QEMU's edu device (1234:11e8) to vfio-pci and runs
# /wpt-vfio-test <edu PCI address> <IOMMU group>, then prints
#   WPT-VFIO-EXIT <status>
# and powers off.  A step that fails prints "wpt-init: FAIL: <why>" and
# powers off without an exit line; the host reports the log.
. /lib/wpt/init-lib.sh

load_modules
[ -d /sys/bus/pci/drivers/vfio-pci ] || fail "no vfio-pci driver after loading the modules"
[ -d /sys/class/iommu ] && [ -n "$(ls /sys/class/iommu)" ] ||
	fail "no IOMMU (is intel_iommu=on on the command line?)"

edu=""
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat "$d/vendor")" = 0x1234 ] && [ "$(cat "$d/device")" = 0x11e8 ]; then
		edu=${d##*/}
		break
	fi
done
[ -n "$edu" ] || fail "no edu device (1234:11e8) in /sys/bus/pci/devices"
dev=/sys/bus/pci/devices/$edu
[ -e "$dev/iommu_group" ] || fail "edu $edu has no IOMMU group"
group=$(readlink "$dev/iommu_group")
group=${group##*/}

if [ -e "$dev/driver" ]; then
	echo "$edu" > "$dev/driver/unbind" || fail "cannot unbind $edu from $(readlink "$dev/driver")"
fi
echo vfio-pci > "$dev/driver_override" || fail "cannot write $dev/driver_override"
echo "$edu" > /sys/bus/pci/drivers_probe
drv=$(readlink "$dev/driver" 2>/dev/null)
[ "${drv##*/}" = vfio-pci ] || fail "edu $edu did not bind to vfio-pci (driver: ${drv:-none})"

# A kernel may offer the group and container (type1), the device cdev
# for iommufd (6.6 on), or both: the test needs one of them.  devtmpfs
# creates the nodes asynchronously.
cdev=$(ls "$dev/vfio-dev" 2>/dev/null | head -n 1)
has_node() { [ -c "/dev/vfio/$group" ] || { [ -n "$cdev" ] && [ -c "/dev/vfio/devices/$cdev" ]; }; }
wait_for 50 "/dev/vfio/$group nor a vfio device cdev after binding $edu" has_node
say "edu $edu bound to vfio-pci, IOMMU group $group; /dev/vfio: $(ls /dev/vfio | tr '\n' ' ')"
[ -c /dev/vfio/vfio ] || say "no /dev/vfio/vfio: this kernel has no type1 container"
[ -c /dev/iommu ] && say "iommufd: /dev/iommu present"
[ -n "$cdev" ] && [ -c "/dev/vfio/devices/$cdev" ] && say "vfio device cdev: /dev/vfio/devices/$cdev"

# Kernel messages (DMAR faults above all) would land in the middle of the
# test's TAP lines on the shared console: keep them in the ring buffer
# while the test runs and print them after it.
before=$(dmesg | wc -l)
dmesg -n 1
say "running /wpt-vfio-test $edu $group, up $(uptime_s) s"
/wpt-vfio-test "$edu" "$group"
rc=$?
echo "WPT-VFIO-EXIT $rc"
say "kernel messages during the test:"
dmesg | tail -n "+$((before + 1))"
say "done, up $(uptime_s) s"
off
