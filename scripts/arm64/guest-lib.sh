# guest-lib.sh: sourced by a busybox guest's /init (init.sh here, the
# check-vfio guest's init): mounts what a test needs, takes the console,
# and defines say, off (power off, never returns) and fail (say why, show
# the last kernel messages, power off).  Put it in the initramfs beside
# /init; mkinitramfs.sh puts it at /wpt/guest-lib.sh.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

mount -t devtmpfs devtmpfs /dev 2>/dev/null
# The initramfs has no /dev/console node, so the kernel could not give
# init one: take it now that devtmpfs is there.
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp

say() { echo "wpt-init: $*"; }
off() { sync; poweroff -f; sleep 5; echo o > /proc/sysrq-trigger; }
fail() {
	echo "wpt-init: FAIL: $*"
	echo "wpt-init: last kernel messages:"
	dmesg | tail -n 20
	off
}
