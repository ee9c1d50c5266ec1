#!/bin/sh
# boot.sh OUT TIMEOUT KIMAGE INITRD APPEND [QEMU-ARGS...]
# Boot KIMAGE with INITRD on a TCG x86-64 q35 machine with `-cpu max` (which
# offers SVM with nested paging, so the guest has a standard KVM), the
# serial console on stdio, for at most TIMEOUT seconds.  APPEND is added to
# the kernel command line; QEMU-ARGS (devices, -smp, -m) to QEMU's.  Writes
# OUT/console.log (CR LF made LF), OUT/qemu.log (QEMU's own messages, apart
# so they cannot cut a console line in two) and OUT/qemu.cmd.  Exits with
# QEMU's status: 124 or 137 when TIMEOUT passed.
set -u
out=$1 timeout_s=$2 kimage=$3 initrd=$4 append=$5
shift 5
log=$out/console.log

# quiet, loglevel=4: the console carries the test's output, not the boot.
# tsc=reliable: TCG's TSC would otherwise be declared unstable and the
# clock fall back to a slower source.  panic=-1 with -no-reboot: a panic
# ends QEMU at once instead of waiting out TIMEOUT.
cmdline="console=ttyS0 panic=-1 quiet loglevel=4 8250.nr_uarts=1 nokaslr \
mitigations=off tsc=reliable $append"
set -- qemu-system-x86_64 -accel tcg -machine q35 -cpu max -m 1G \
	-nographic -no-reboot -nodefaults -serial stdio \
	-kernel "$kimage" -initrd "$initrd" -append "$cmdline" "$@"
echo "$*" > "$out/qemu.cmd"
timeout -k 10 "$timeout_s" "$@" < /dev/null > "$log" 2> "$out/qemu.log"
rc=$?
tr -d '\r' < "$log" > "$log.txt"
mv "$log.txt" "$log"
exit $rc
