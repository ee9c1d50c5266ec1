# bind-edu.sh: sourced by the level-1 and level-2 guests' scripts: binds QEMU's edu (1234:11e8) to vfio-pci and sets
# EDU (its BDF) and GROUP (its IOMMU group); waits (bounded) for the node.
edu=""
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat "$d/vendor")" = 0x1234 ] && [ "$(cat "$d/device")" = 0x11e8 ]; then
		edu=${d##*/}
		break
	fi
done
[ -n "$edu" ] || fail "no edu device (1234:11e8) in /sys/bus/pci/devices"
dev=/sys/bus/pci/devices/$edu
EDU=$edu
if [ -e "$dev/driver" ]; then
	echo "$edu" > "$dev/driver/unbind" || fail "cannot unbind $edu"
fi
echo vfio-pci > "$dev/driver_override" || fail "cannot write driver_override"
echo "$edu" > /sys/bus/pci/drivers_probe
drv=$(readlink "$dev/driver" 2>/dev/null)
[ "${drv##*/}" = vfio-pci ] || fail "edu $edu did not bind to vfio-pci (driver: ${drv:-none})"
# On a device-tree system the IOMMU group comes with the first driver
# probe (of_iommu_configure), so only now.
[ -e "$dev/iommu_group" ] || fail "edu $edu has no IOMMU group (no SMMU?)"
GROUP=$(readlink "$dev/iommu_group")
GROUP=${GROUP##*/}
i=0
until [ -c "/dev/vfio/$GROUP" ]; do
	[ $i -lt 50 ] || fail "no /dev/vfio/$GROUP after binding $edu"
	sleep 0.1
	i=$((i + 1))
done
say "edu $EDU bound to vfio-pci, IOMMU group $GROUP"
