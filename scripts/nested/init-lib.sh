#!/bin/sh
# Sourced by each nested guest's /init (busybox sh) as
# /lib/wpt/init-lib.sh: the root filesystems, the console and say, fail,
# off (guest-lib.sh, shared with the arm64 guest, beside it), then the
# modules mkinitramfs.sh put in /lib/modules/wpt in dependency order.
# WPT_INIT_TAG (default wpt-init) tags every line; say/fail/off are the
# guest's only output words, and the host's check scripts read them.
. /lib/wpt/guest-lib.sh

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
