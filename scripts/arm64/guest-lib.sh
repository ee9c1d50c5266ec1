# shellcheck shell=sh
# guest-lib.sh: sourced by a busybox guest's /init (init.sh here; the
# x86-64 nested guests' inits through scripts/nested/init-lib.sh): mounts
# what a test needs, takes the console, and defines say, off (power off,
# never returns) and fail (say why, show the last kernel messages, power
# off), their lines tagged WPT_INIT_TAG (default wpt-init).  Put it in the
# initramfs beside /init; mkinitramfs.sh puts it at /wpt/guest-lib.sh,
# scripts/nested/mkinitramfs.sh at /lib/wpt/guest-lib.sh.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
: "${WPT_INIT_TAG:=wpt-init}"

mount -t devtmpfs devtmpfs /dev 2>/dev/null
# The initramfs has no /dev/console node, so the kernel could not give
# init one: take it now that devtmpfs is there.
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp

say() { echo "$WPT_INIT_TAG: $*"; }
off() { sync; poweroff -f; sleep 5; echo o > /proc/sysrq-trigger; }
fail() {
	echo "$WPT_INIT_TAG: FAIL: $*"
	echo "$WPT_INIT_TAG: last kernel messages:"
	dmesg | tail -n 20
	off
}
