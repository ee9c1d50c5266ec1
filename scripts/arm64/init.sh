#!/bin/sh
# /init of a busybox guest built by mkinitramfs.sh.  Links busybox's
# applets, mounts /dev, /proc, /sys, /dev/shm and /tmp (guest-lib.sh),
# loads /lib/modules/wpt/order's modules, runs /wpt/run (with the words
# after "wpt.args=" on the kernel command line, split at commas, as its
# arguments), then prints
#   WPT-EXIT <status>
# and powers off.  A step that fails prints "wpt-init: FAIL: <why>" and
# powers off without an exit line.
/bin/busybox --install -s
. /wpt/guest-lib.sh

say "kernel $(uname -r) $(uname -m), up $(cut -d' ' -f1 /proc/uptime) s"
while read -r ko; do
	insmod "/lib/modules/wpt/$ko" || fail "insmod $ko"
done < /lib/modules/wpt/order
[ -s /lib/modules/wpt/order ] && say "loaded $(tr '\n' ' ' < /lib/modules/wpt/order)"

args=$(tr ' ' '\n' < /proc/cmdline | sed -n 's/^wpt\.args=//p' | tr ',' ' ')
say "running /wpt/run $args, up $(cut -d' ' -f1 /proc/uptime) s"
# Word splitting of the arguments is wanted.
# shellcheck disable=SC2086
/wpt/run $args
rc=$?
echo "WPT-EXIT $rc"
say "done, up $(cut -d' ' -f1 /proc/uptime) s"
off
