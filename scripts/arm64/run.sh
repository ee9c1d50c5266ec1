#!/bin/sh
# run.sh [options] KERNEL INITRD [-- QEMU-ARGS...]
# Boot an arm64 Linux guest under QEMU/TCG on a virt machine with EL2
# (virtualization=on: the guest's KVM is a real VHE KVM), GICv3 and
# -cpu max (pauth-impdef=on: QEMU's cheap pointer-authentication
# algorithm, the architected one is slow under TCG), bounded by a timeout.
# The console goes to LOG (CR LF turned to LF); the lines of an
# init.sh guest's /wpt/run are also printed on stdout as they come.
#   -t SECONDS  QEMU may run (default 300); then it is killed
#   -l LOG      console log (default ./console.log)
#   -M OPTS     more -M virt options, e.g. iommu=smmuv3
#   -a WORDS    more kernel command line, e.g. wpt.args=a,b
#   -m MEM      guest RAM (default 1G)   -s N  vCPUs (default 1)
#   QEMU-ARGS   passed through, e.g. -device edu,dma_mask=0xffffffffffffffff
# Exit status: the guest's "WPT-EXIT <status>" (0..255), 124 if the
# timeout was reached, 125 if QEMU ended without an exit line.
#   scripts/arm64/run.sh -t 120 -l out/console.log "$KIMAGE" out/initramfs.cpio
set -eu
say() { echo "run-arm64: $*" >&2; }
usage() { sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
timeout_s=300 log=console.log mopts="" append="" mem=1G smp=1
while getopts t:l:M:a:m:s: o; do
	case $o in
	t) timeout_s=$OPTARG ;;
	l) log=$OPTARG ;;
	M) mopts="$mopts,$OPTARG" ;;
	a) append="$append $OPTARG" ;;
	m) mem=$OPTARG ;;
	s) smp=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || usage
kernel=$1 initrd=$2; shift 2
[ "${1:-}" != -- ] || shift
[ -f "$kernel" ] || { say "no kernel $kernel"; exit 2; }
[ -f "$initrd" ] || { say "no initramfs $initrd"; exit 2; }
command -v qemu-system-aarch64 >/dev/null ||
	{ say "no qemu-system-aarch64 (apt-get install qemu-system-arm)"; exit 2; }

set -- qemu-system-aarch64 -accel tcg \
	-M "virt,virtualization=on,gic-version=3$mopts" -cpu max,pauth-impdef=on \
	-smp "$smp" -m "$mem" -nographic -no-reboot -nodefaults -serial stdio \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyAMA0 panic=-1 quiet loglevel=4$append" "$@"
echo "$*" > "$log.cmd"
say "booting (TCG, timeout $timeout_s s; console in $log)"
start=$(date +%s)
set +e
# The console, unbuffered through tr, so a hang still shows how far it got.
timeout -k 10 "$timeout_s" "$@" < /dev/null 2> "$log.qemu" | tr -d '\r' |
	tee "$log" | sed -u -n '/^wpt-init: running /,/^WPT-EXIT /p'
set -e
say "QEMU ran $(( $(date +%s) - start )) s"
exitline=$(grep -a -m1 '^WPT-EXIT [0-9]' "$log" || true)
if [ -n "$exitline" ]; then
	exit "${exitline#WPT-EXIT }"
fi
if grep -q -a '^wpt-init: FAIL' "$log"; then
	say "guest setup failed: $(grep -a -m1 '^wpt-init: FAIL' "$log")"
fi
[ ! -s "$log.qemu" ] || say "QEMU said: $(head -n 3 "$log.qemu")"
# timeout's own status is lost in the pipe: judge by the elapsed time.
if [ $(( $(date +%s) - start )) -ge "$timeout_s" ]; then
	say "timed out after $timeout_s s waiting for the guest's WPT-EXIT line"
	exit 124
fi
say "QEMU ended without a WPT-EXIT line"
exit 125
