#!/bin/sh
# Sourced by each nested guest's /init (busybox sh) as
# /lib/wpt/init-lib.sh: the root filesystems, the console, and the
# modules mkinitramfs.sh put in /lib/modules/wpt in dependency order.
# Sets WPT_INIT_TAG's default; say/fail/off are the guest's only output
# words, and the host's check scripts read them.
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
uptime_s() { cut -d' ' -f1 /proc/uptime; }

load_modules() {
	while read -r ko; do
		insmod "/lib/modules/wpt/$ko" || fail "insmod $ko"
	done < /lib/modules/wpt/order
	[ -s /lib/modules/wpt/order ] && say "loaded $(tr '\n' ' ' < /lib/modules/wpt/order)"
	return 0
}

# wait_for TENTHS WHAT TEST...: poll TEST every 0.1 s; fail naming WHAT
# once TENTHS polls have passed without it.
wait_for() {
	wait_n=$1 wait_what=$2
	shift 2
	wait_i=0
	until "$@"; do
		[ $wait_i -lt "$wait_n" ] || fail "no $wait_what after $((wait_n / 10)) s"
		sleep 0.1
		wait_i=$((wait_i + 1))
	done
}

say "kernel $(uname -r), up $(uptime_s) s"
